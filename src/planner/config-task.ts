import { ConfigError } from "../config/index.js";
import type { ConfigIssue, ConfigLimits, RepoConfig } from "../config/index.js";
import type { ConfigSource } from "./config-source-memo.js";
import { interpretConfigSource } from "./interpret-config.js";
import type { LoadedRepoConfig } from "./interpret-config.js";
import { planImages } from "./plan.js";
import type { ImageDecision, PlanInput } from "./plan.js";

/**
 * The untrusted part of planning, as messages that cross a thread boundary: reading a repository's config
 * (YAML, schema, globs, templates) and applying it to an event (path filters against the changed files, tag
 * rendering). Everything in and out is plain data (structured clone); a ConfigError travels as its issues and is
 * built again on the other side.
 */
export type ConfigTask =
  | { kind: "interpret"; source: ConfigSource; repoName: string; limits: ConfigLimits }
  | { kind: "plan"; input: PlanInput };

/** LoadedRepoConfig as plain data. */
export type PlainLoaded = { kind: "config"; config: RepoConfig } | { kind: "invalid"; issues: ConfigIssue[] } | { kind: "none" };

/** A thrown error as plain data: a ConfigError by its issues, anything else by name, message and stack. */
export type PlainError = { kind: "config"; issues: ConfigIssue[] } | { kind: "other"; name: string; message: string; stack?: string };

export type TaskOutcome = { ok: true; value: PlainLoaded | ImageDecision[] } | { ok: false; error: PlainError };

export function runConfigTask(task: ConfigTask): TaskOutcome {
  try {
    if (task.kind === "plan") return { ok: true, value: planImages(task.input) };
    return { ok: true, value: toPlainLoaded(interpretConfigSource(task.source, task.repoName, task.limits)) };
  } catch (err) {
    return { ok: false, error: toPlainError(err) };
  }
}

/**
 * A small config with every part a real one may use (path filters, tag templates), read and then applied to a push:
 * run once by each thread before it says it is ready, so the first real config's check does not pay for compiling
 * the parser, the schema, the globs and the planning code (V8 compiles a function on its first call: tens of ms on
 * a busy machine, in front of a push's build otherwise).
 */
const WARM_UP_CONFIG = `images:
  - name: warm-up
    paths: ["src/**", "Dockerfile"]
    tags: ["{{branch}}", "sha-{{short_sha}}"]
    platforms: [linux/amd64]
    build_args: { MODE: warm }
`;

export function warmUpConfigTasks(limits: ConfigLimits): { interpreted: TaskOutcome; planned: TaskOutcome | undefined } {
  const interpreted = runConfigTask({ kind: "interpret", source: { kind: "file", text: WARM_UP_CONFIG }, repoName: "warm-up", limits });
  if (!interpreted.ok || Array.isArray(interpreted.value) || interpreted.value.kind !== "config") return { interpreted, planned: undefined };
  const planned = runConfigTask({
    kind: "plan",
    input: {
      target: { kind: "branch", branch: "main" },
      sha: "0123456789abcdef0123456789abcdef01234567",
      owner: "warm-up",
      repoName: "warm-up",
      defaultBranch: "main",
      config: interpreted.value.config,
      registryPrefix: "registry.invalid",
      changedFiles: ["src/a.ts", "README.md"],
      latestAllowed: true,
      branchCheck: "main",
    },
  });
  return { interpreted, planned };
}

export function toPlainLoaded(loaded: LoadedRepoConfig): PlainLoaded {
  return loaded.kind === "invalid" ? { kind: "invalid", issues: [...loaded.error.issues] } : loaded;
}

export function fromPlainLoaded(plain: PlainLoaded): LoadedRepoConfig {
  return plain.kind === "invalid" ? { kind: "invalid", error: new ConfigError(plain.issues) } : plain;
}

export function toPlainError(err: unknown): PlainError {
  if (err instanceof ConfigError) return { kind: "config", issues: [...err.issues] };
  if (err instanceof Error) return { kind: "other", name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { kind: "other", name: "Error", message: String(err) };
}

export function fromPlainError(plain: PlainError): Error {
  if (plain.kind === "config") return new ConfigError(plain.issues);
  const err = new Error(plain.message);
  err.name = plain.name;
  if (plain.stack) err.stack = plain.stack;
  return err;
}
