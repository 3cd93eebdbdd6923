import { REPO_CONFIG_PATH } from "../config/index.js";
import { readRepoFileEntry } from "../github/index.js";
import type { GitHubClient } from "../github/index.js";
import type { ConfigSource } from "./config-source-memo.js";

// Reading a config goes through GitHub; interpreting it does not and runs in the config check threads, which load
// interpret-config.ts without the GitHub code.
export { interpretConfigSource } from "./interpret-config.js";
export type { LoadedRepoConfig } from "./interpret-config.js";

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
