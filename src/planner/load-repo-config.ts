import { ConfigError, REPO_CONFIG_PATH } from "../config/config-error.js";
import type { ConfigLimits } from "../config/config-limits.js";
import { rootDockerfileConfig } from "../config/default-repo-config.js";
import { parseRepoConfig } from "../config/parse-repo-config.js";
import type { RepoConfig } from "../config/repo-config.js";
import { readRepoFile } from "../github/repo-reader.js";
import type { GitHubClient } from "../github/repo-reader.js";
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
 * GitHub failures other than 404 are thrown (RepoReadError) for the queue to retry.
 */
export async function readConfigSource(octokit: GitHubClient, at: { owner: string; repo: string; ref: string }): Promise<ConfigSource> {
  // Both reads go out together: the root Dockerfile only matters without a config file, but waiting for the
  // config's 404 first would put a second GitHub round trip in front of every build of such a repository.
  const dockerfileRead = readRepoFile(octokit, { ...at, path: "Dockerfile" });
  dockerfileRead.catch(() => undefined);
  const text = await readRepoFile(octokit, { ...at, path: REPO_CONFIG_PATH });
  if (text !== undefined) return { kind: "file", text };
  return (await dockerfileRead) === undefined ? { kind: "none" } : { kind: "root-dockerfile" };
}

export function interpretConfigSource(source: ConfigSource, repoName: string, limits?: ConfigLimits): LoadedRepoConfig {
  switch (source.kind) {
    case "none":
      return { kind: "none" };
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
