import type { ConfigLimits } from "../config/index.js";
import type { ConfigSource } from "./config-source-memo.js";
import { interpretConfigSource } from "./load-repo-config.js";
import type { LoadedRepoConfig } from "./load-repo-config.js";
import { planImages } from "./plan.js";
import type { ImageDecision, PlanInput } from "./plan.js";

/**
 * Where the planner does its work on a repository's untrusted config: reading it (`interpretConfigSource`) and
 * applying it to an event (`planImages`: path filters, tags). The app runs both in worker threads
 * (ConfigWorkerPool); `inThreadConfigWork` runs them on the caller's thread. Either may reject with a ConfigError,
 * which is reported like an invalid config.
 */
export interface ConfigWork {
  /** `limits`: the account's (default: the implementation's own). */
  interpret(source: ConfigSource, repoName: string, limits?: ConfigLimits): Promise<LoadedRepoConfig>;
  /** `limits`: the account's, for `checkTimeMs` (default: the implementation's own). */
  plan(input: PlanInput, limits?: ConfigLimits): Promise<ImageDecision[]>;
}

/**
 * The same work on the calling thread, within `defaultLimits` unless a call gives its own. `checkTimeMs` and
 * `checkMemoryMb` do not apply: bounding time and memory takes a thread.
 */
export function inThreadConfigWork(defaultLimits?: ConfigLimits): ConfigWork {
  return {
    interpret: async (source, repoName, limits) => interpretConfigSource(source, repoName, limits ?? defaultLimits),
    plan: async (input) => planImages(input),
  };
}
