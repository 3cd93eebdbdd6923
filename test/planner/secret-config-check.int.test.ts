import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { EventJob } from "../../src/queue/job-types.js";
import type { GitRepo } from "../support/git-server.js";
import { pushEventJob, startTenantPlannerWorld, tenantPlanner } from "./support/tenant-planner.js";
import type { TenantPlannerWorld } from "./support/tenant-planner.js";

/**
 * The config check's build-secret rule, through the real planner against the fake GitHub: an id under an image's
 * `secrets` that the operator's tenants file does not give the repository fails the config check with an annotation
 * on that entry's line, and nothing is built; with granted ids only, the queued build job carries the ids, never
 * a value.
 */

let world: TenantPlannerWorld;

before(async () => {
  world = await startTenantPlannerWorld("secret-config-check", 7511, { 32: "acme" });
});

after(async () => {
  await world.close();
});

function push(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return pushEventJob(repo, { installationId, owner, name, sha, changedFiles: ["Dockerfile", ".github/buildkit-bot.yml"], deliveryPrefix: "secretcheck" });
}

const NPM_VALUE = "npm-value-never-in-a-job";

test("an id the tenants file does not give the repository fails the config check on its line; granted ids reach the job as ids only", { timeout: 60_000 }, async () => {
  const tenants = await world.tenants("unlisted_accounts: refuse\naccounts:\n  - login: acme\n    build_secrets:\n      - id: npm_token\n        env: NPM\n      - id: license_key\n        env: NPM\n        repositories: [billing]\n", { NPM: NPM_VALUE });
  const repo = await world.fake.createRepo(32, "acme", "app");
  const config = ["images:", "  - name: api", "    secrets:", "      - npm_token", "      - license_key", "  - name: web", "    secrets: [nope]", ""].join("\n");
  const badSha = await repo.commit({ Dockerfile: "FROM scratch\n", ".github/buildkit-bot.yml": config });

  const { plan, builds } = tenantPlanner(world, tenants);

  await plan(push(32, repo, "acme", "app", badSha), new AbortController().signal);
  const runs = world.fake.findCheckRuns({ owner: "acme", repo: "app", sha: badSha });
  assert.deepEqual(runs.map((r) => [r.name, r.conclusion]), [["buildkit-bot / config", "failure"]]);
  assert.equal(builds.length, 0, "nothing is built");
  const annotations = runs[0]!.annotations;
  assert.deepEqual(annotations.map((a) => [a.path, a.start_line, a.annotation_level]), [
    [".github/buildkit-bot.yml", 5, "failure"],
    [".github/buildkit-bot.yml", 7, "failure"],
  ]);
  assert.match(annotations[0]!.message, /images\[0\]\.secrets\[1\]: "license_key" is not a build secret of this repository; the operator's tenants file gives this repository "npm_token"/);
  assert.match(annotations[1]!.message, /images\[1\]\.secrets\[0\]: "nope" is not a build secret/);
  assert.ok(!JSON.stringify(runs).includes(NPM_VALUE));

  const goodSha = await repo.commit({ ".github/buildkit-bot.yml": config.replace("      - license_key\n", "").replace("[nope]", "[]") });
  await plan(push(32, repo, "acme", "app", goodSha), new AbortController().signal);
  assert.deepEqual(builds.map((b) => [b.image.name, b.image.secrets]), [["api", ["npm_token"]], ["web", undefined]]);
  assert.ok(!JSON.stringify(builds).includes(NPM_VALUE), "the job carries ids, never values");
});
