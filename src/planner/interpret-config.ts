import { ConfigError, REPO_CONFIG_PATH, DEFAULT_CONFIG_LIMITS, rootDockerfileConfig, parseRepoConfig } from "../config/index.js";
import type { ConfigLimits, RepoConfig } from "../config/index.js";
import type { ConfigSource } from "./config-source-memo.js";

export type LoadedRepoConfig =
  | { kind: "config"; config: RepoConfig }
  | { kind: "invalid"; error: ConfigError }
  /** Neither a config file nor a root Dockerfile: nothing to build. */
  | { kind: "none" };

export function interpretConfigSource(source: ConfigSource, repoName: string, limits?: ConfigLimits): LoadedRepoConfig {
  switch (source.kind) {
    case "none":
      return { kind: "none" };
    case "too-large":
      return { kind: "invalid", error: tooLargeError(source.bytes, limits ?? DEFAULT_CONFIG_LIMITS) };
    case "root-dockerfile":
      return { kind: "config", config: rootDockerfileConfig(repoName) };
    case "file":
      try {
        return { kind: "config", config: parseRepoConfig(source.text, limits ? { limits } : {}) };
      } catch (err) {
        if (err instanceof ConfigError) return { kind: "invalid", error: err };
        throw err;
      }
  }
}

/**
 * A config file GitHub did not send: the size limit's own message when it is over `fileBytes` (as parseRepoConfig
 * words it); under a `fileBytes` raised past 1 MB, the reason it cannot be read.
 */
function tooLargeError(bytes: number, limits: ConfigLimits): ConfigError {
  const message =
    bytes > limits.fileBytes
      ? `the file is ${bytes} bytes, over the limit of ${limits.fileBytes} bytes`
      : `the file is ${bytes} bytes; GitHub's contents API serves files of up to 1 MB`;
  return new ConfigError([{ path: REPO_CONFIG_PATH, line: 1, column: 1, message }]);
}
