import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { EventJob } from "../../src/queue/job-types.js";
import type { GitRepo } from "../support/git-server.js";
import { pushEventJob, startTenantPlannerWorld, TENANT_REGISTRY, tenantPlanner } from "./support/tenant-planner.js";
import type { TenantPlannerWorld } from "./support/tenant-planner.js";

/**
 * The tenants file's `unlisted_accounts: refuse`, through the real planner against the fake GitHub: a refused
 * account's push gets one neutral check run saying why and no build; a listed account's push builds as usual.
 */

let world: TenantPlannerWorld;

before(async () => {
  world = await startTenantPlannerWorld("refused-account", 7500, { 31: "acme", 32: "stranger" });
});

after(async () => {
  await world.close();
});

function push(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return pushEventJob(repo, { installationId, owner, name, sha, changedFiles: ["Dockerfile"], deliveryPrefix: "refused" });
}

test("an unlisted account is refused with one neutral check run and no build; a listed one builds", { timeout: 60_000 }, async () => {
  const tenants = await world.tenants("unlisted_accounts: refuse\naccounts:\n  - login: acme\n");

  const acmeRepo = await world.fake.createRepo(31, "acme", "app");
  const acmeSha = await acmeRepo.commit({ Dockerfile: "FROM scratch\n" });
  const strangerRepo = await world.fake.createRepo(32, "stranger", "app");
  const strangerSha = await strangerRepo.commit({ Dockerfile: "FROM scratch\n" });
  const emptyRepo = await world.fake.createRepo(32, "stranger", "notes");
  const emptySha = await emptyRepo.commit({ "README.md": "no Dockerfile here\n" });

  const { plan, builds } = tenantPlanner(world, tenants);

  await plan(push(32, strangerRepo, "stranger", "app", strangerSha), new AbortController().signal);
  const refused = world.fake.findCheckRuns({ owner: "stranger", repo: "app", sha: strangerSha });
  assert.equal(refused.length, 1, JSON.stringify(refused));
  assert.equal(refused[0]!.name, "buildkit-bot");
  assert.equal(refused[0]!.status, "completed");
  assert.equal(refused[0]!.conclusion, "neutral");
  assert.equal(refused[0]!.output.title, "Not built: this account is not served");
  assert.match(refused[0]!.output.summary ?? "", /builds only for the accounts its operator lists, and stranger \(installation 32\) is not one of them/);
  assert.equal(builds.length, 0, "a refused account gets no build");

  // A repository of the refused account with nothing to build gets no check run at all (no noise on every commit).
  await plan(push(32, emptyRepo, "stranger", "notes", emptySha), new AbortController().signal);
  assert.equal(world.fake.findCheckRuns({ owner: "stranger", repo: "notes" }).length, 0);

  await plan(push(31, acmeRepo, "acme", "app", acmeSha), new AbortController().signal);
  const served = world.fake.findCheckRuns({ owner: "acme", repo: "app", sha: acmeSha });
  assert.deepEqual(served.map((r) => [r.name, r.status]), [["buildkit-bot / app", "queued"]]);
  assert.equal(builds.length, 1);
  assert.deepEqual(builds[0]!.image.tags, [`${TENANT_REGISTRY}/acme/app:main`, `${TENANT_REGISTRY}/acme/app:sha-${acmeSha.slice(0, 7)}`, `${TENANT_REGISTRY}/acme/app:latest`]);
  assert.equal(builds[0]!.image.cache.export, `${TENANT_REGISTRY}/acme/app:buildcache-main`, "the cache ref follows the owner-scoped image");
});
