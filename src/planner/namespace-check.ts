import { REPO_CONFIG_PATH } from "../config/index.js";
import type { ConfigIssue, RepoConfig } from "../config/index.js";
import { describeNamespaces, isInNamespaces } from "../tenancy/index.js";

/**
 * The config check's part of tenancy: every `repository:` and `cache.ref` the file sets must lie inside the
 * account's namespaces (the tenants file's, or `<prefix>/<owner>/`). One issue per reference outside, on its line,
 * naming the namespaces allowed. Defaults are owner-scoped and need no check here; the worker checks every
 * reference of every job again before anything is pushed.
 */
export function namespaceIssues(config: RepoConfig, namespaces: readonly string[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const allowed = `this account may only push to and read caches from ${describeNamespaces(namespaces)} (the operator's tenants file)`;
  config.images.forEach((image, index) => {
    if (image.repository !== undefined && !isInNamespaces(image.repository, namespaces)) {
      issues.push({
        path: REPO_CONFIG_PATH,
        line: image.refLines?.repository ?? image.line,
        column: 1,
        message: `images[${index}].repository: "${image.repository}" is outside the account's namespaces; ${allowed}`,
      });
    }
    const cacheRef = image.cache.kind === "fixed" ? image.cache.ref : image.cache.kind === "per-ref" ? image.cache.repository : undefined;
    if (cacheRef !== undefined && !isInNamespaces(cacheRef, namespaces)) {
      issues.push({
        path: REPO_CONFIG_PATH,
        line: image.refLines?.cacheRef ?? image.line,
        column: 1,
        message: `images[${index}].cache.ref: "${cacheRef}" is outside the account's namespaces; ${allowed}`,
      });
    }
  });
  return issues.sort((a, b) => a.line - b.line);
}
