import type { RepoConfig } from "./repo-config.js";

/** A GitHub repository name as a registry path component / image name: lowercase, separators only inside. */
export function repositoryPathComponent(repoName: string): string {
  const cleaned = repoName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/[._-]{2,}/g, "-")
    .replace(/^[._-]+|[._-]+$/g, "");
  return cleaned || "repo";
}

/**
 * The config of a repository without `.github/buildkit-bot.yml` but with a root `Dockerfile`: one image named
 * after the repository, every default (pushed from the default branch and tags, registry cache on).
 */
export function rootDockerfileConfig(repoName: string): RepoConfig {
  return {
    fromFile: false,
    images: [
      {
        name: repositoryPathComponent(repoName),
        context: "",
        dockerfile: "Dockerfile",
        platforms: [],
        buildArgs: {},
        paths: [],
        push: { pullRequests: false },
        cache: { kind: "per-ref" },
        line: 0,
      },
    ],
  };
}
