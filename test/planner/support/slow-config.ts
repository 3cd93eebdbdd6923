import { parseRepoConfig } from "../../../src/config/parse-repo-config.js";
import type { PlanInput } from "../../../src/planner/plan.js";

/**
 * A config within every default limit (64,029 bytes) that is still slow to read: 32,001 items in one flow
 * sequence take the parser a few hundred milliseconds and about 40 MB. It ends in `unknown key "x"`.
 */
export const SLOW_64K_CONFIG = `images: [{name: app}]\nx: [${"a,".repeat(32_000)}a]\n`;

/**
 * Path filtering that takes seconds within the default limits: 50 globs of 12 stars each against 40,000 changed
 * files of 250 characters that none of them matches.
 */
export function slowPlanInput(): PlanInput {
  const globs = Array.from({ length: 50 }, (_, i) => `"**/${"*a".repeat(12)}*b${i}"`).join(", ");
  return {
    target: { kind: "branch", branch: "main" },
    sha: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
    owner: "acme",
    repoName: "shop",
    defaultBranch: "main",
    config: parseRepoConfig(`images:\n  - name: app\n    paths: [${globs}]\n`),
    registryPrefix: "127.0.0.1:5000",
    latestAllowed: true,
    changedFiles: Array.from({ length: 40_000 }, (_, i) => `${"a".repeat(250)}/${i}`),
  };
}
