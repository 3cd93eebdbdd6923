import { ConfigError, REPO_CONFIG_PATH, DEFAULT_CONFIG_LIMITS, rootDockerfileConfig, parseRepoConfig } from "../config/index.js";
import type { ConfigLimits, RepoConfig } from "../config/index.js";
import { readRepoFileEntry } from "../github/index.js";
import type { GitHubClient } from "../github/index.js";
import type { ConfigSource } from "./config-source-memo.js";

export type LoadedRepoConfig =
  | { kind: "config"; config: RepoConfig }
  | { kind: "invalid"; error: ConfigError }
  /** Neither a config file nor a root Dockerfile: nothing to build. */
  | { kind: "none" };

/**
 * What decides the config at `ref`: the config file, else the root Dockerfile (built with defaults), else
 * nothing. A repository with neither gets no check run at all: the app may be installed on every repository of an
 * organisation, and a "nothing to build" check on each commit of each of them would be noise, not help.
 * GitHub failures other than 404 are thrown (RepoReadError) for the queue to retry. Neither file is downloaded
 * when GitHub says it is over 1 MB: such a config file is over the size limit, and the Dockerfile only has to exist.
 */
export async function readConfigSource(octokit: GitHubClient, at: { owner: string; repo: string; ref: string }): Promise<ConfigSource> {
  // Both reads go out together: the root Dockerfile only matters without a config file, but waiting for the
  // config's 404 first would put a second GitHub round trip in front of every build of such a repository.
  const dockerfileRead = readRepoFileEntry(octokit, { ...at, path: "Dockerfile" });
  dockerfileRead.catch(() => undefined);
  const config = await readRepoFileEntry(octokit, { ...at, path: REPO_CONFIG_PATH });
  if (config?.kind === "text") return { kind: "file", text: config.text };
  if (config?.kind === "too-large") return { kind: "too-large", bytes: config.bytes };
  return (await dockerfileRead) === undefined ? { kind: "none" } : { kind: "root-dockerfile" };
}

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
