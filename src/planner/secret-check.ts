import { REPO_CONFIG_PATH } from "../config/index.js";
import type { ConfigIssue, RepoConfig } from "../config/index.js";
import { secretIdsForRepository } from "../tenancy/index.js";
import type { BuildSecretGrant } from "../tenancy/index.js";

/**
 * The config check's part of build secrets: every id an image lists under `secrets` must be one the operator's
 * tenants file gives this repository. One issue per unknown id, on the line of its entry, naming the ids given.
 * Runs on the main thread after the parse (the config workers do not hold the tenants); the worker checks again.
 */
export function secretGrantIssues(config: RepoConfig, grants: readonly BuildSecretGrant[], repo: string): ConfigIssue[] {
  const given = secretIdsForRepository(grants, repo);
  const allowed =
    given.length > 0
      ? `the operator's tenants file gives this repository ${given.map((id) => `"${id}"`).join(", ")}`
      : "the operator's tenants file gives this repository no build secrets";
  const issues: ConfigIssue[] = [];
  config.images.forEach((image, index) => {
    (image.secrets ?? []).forEach((id, i) => {
      if (given.includes(id)) return;
      issues.push({
        path: REPO_CONFIG_PATH,
        line: image.secretLines?.[i] ?? image.line,
        column: 1,
        message: `images[${index}].secrets[${i}]: "${id}" is not a build secret of this repository; ${allowed}`,
      });
    });
  });
  return issues;
}
