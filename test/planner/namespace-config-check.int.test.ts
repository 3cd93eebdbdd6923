import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { EventJob } from "../../src/queue/job-types.js";
import type { GitRepo } from "../support/git-server.js";
import { pushEventJob, startTenantPlannerWorld, tenantPlanner } from "./support/tenant-planner.js";
import type { TenantPlannerWorld } from "./support/tenant-planner.js";

/**
 * The config check's namespace rule, through the real planner against the fake GitHub: a `repository:` or
 * `cache.ref` aimed outside the account's namespaces fails the config check with an annotation on its line naming
 * the namespaces allowed, and nothing is built; the same config inside them builds.
 */

let world: TenantPlannerWorld;

before(async () => {
  world = await startTenantPlannerWorld("namespace-config-check", 7510, { 31: "acme" });
});

after(async () => {
  await world.close();
});

function push(installationId: number, repo: GitRepo & { id: number }, owner: string, name: string, sha: string): EventJob {
  return pushEventJob(repo, { installationId, owner, name, sha, changedFiles: ["Dockerfile", ".github/buildkit-bot.yml"], deliveryPrefix: "nscheck" });
}

test("repository: and cache.ref outside the account's namespaces fail the config check on their lines; nothing is built", { timeout: 60_000 }, async () => {
  const tenants = await world.tenants("unlisted_accounts: refuse\naccounts:\n  - login: acme\n    namespaces: [127.0.0.1:5000/acme/, 127.0.0.1:5000/shared/acme/]\n");
  const repo = await world.fake.createRepo(31, "acme", "app");
  const escaping = [
    "images:",
    "  - name: api",
    "    repository: 127.0.0.1:5000/other/api",
    "  - name: web",
    "    repository: 127.0.0.1:5000/shared/acme/web",
    "    cache:",
    "      ref: 127.0.0.1:5000/other/web:buildcache",
    "",
  ].join("\n");
  const badSha = await repo.commit({ Dockerfile: "FROM scratch\n", ".github/buildkit-bot.yml": escaping });

  const { plan, builds } = tenantPlanner(world, tenants);

  await plan(push(31, repo, "acme", "app", badSha), new AbortController().signal);
  const runs = world.fake.findCheckRuns({ owner: "acme", repo: "app", sha: badSha });
  assert.deepEqual(runs.map((r) => [r.name, r.conclusion]), [["buildkit-bot / config", "failure"]]);
  assert.equal(builds.length, 0, "nothing is built");
  const annotations = runs[0]!.annotations;
  assert.deepEqual(annotations.map((a) => [a.path, a.start_line, a.annotation_level]), [
    [".github/buildkit-bot.yml", 3, "failure"],
    [".github/buildkit-bot.yml", 7, "failure"],
  ]);
  assert.match(annotations[0]!.message, /images\[0\]\.repository: "127\.0\.0\.1:5000\/other\/api" is outside the account's namespaces/);
  assert.match(annotations[1]!.message, /images\[1\]\.cache\.ref: "127\.0\.0\.1:5000\/other\/web:buildcache" is outside/);
  for (const a of annotations) assert.match(a.message, /may only push to and read caches from 127\.0\.0\.1:5000\/acme\/, 127\.0\.0\.1:5000\/shared\/acme\//);

  // Inside the namespaces (an extra one of the tenants file included), the same images are planned and queued.
  const fixed = escaping.replace("127.0.0.1:5000/other/api", "127.0.0.1:5000/acme/api").replace("127.0.0.1:5000/other/web:buildcache", "127.0.0.1:5000/shared/acme/web:buildcache");
  const goodSha = await repo.commit({ ".github/buildkit-bot.yml": fixed });
  await plan(push(31, repo, "acme", "app", goodSha), new AbortController().signal);
  assert.deepEqual(builds.map((b) => b.image.tags[0]), ["127.0.0.1:5000/acme/api:main", "127.0.0.1:5000/shared/acme/web:main"]);
  assert.equal(builds[1]!.image.cache.export, "127.0.0.1:5000/shared/acme/web:buildcache");
});
