/**
 * Points 3 and 4 of issue 15 on real daemons, a real token-auth registry and a real git server: each account's
 * build offers only its own credential, a registry scoped per namespace refuses one account's credential on the
 * other's path, the worker refuses a job pointing elsewhere before the daemon sees it, and a pull request leaves
 * its base branch's cache manifest byte-for-byte as it was.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BuildKitClient } from "../../src/buildkit/client.js";
import type { BuildRequest, BuildResult } from "../../src/buildkit/build-request.js";
import type { DaemonCapabilities } from "../../src/buildkit/index.js";
import { RegistryClient } from "../../src/buildkit/registry/registry-client.js";
import { Redactor } from "../../src/buildkit/index.js";
import { DEFAULT_CONFIG_LIMITS } from "../../src/config/config-limits.js";
import { planCache } from "../../src/planner/cache-plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { loadTenants, OutsideNamespacesError } from "../../src/tenancy/index.js";
import type { ServedTenant, Tenants } from "../../src/tenancy/index.js";
import { buildRequestForJob } from "../../src/worker/build-request-for-job.js";
import { failureOf } from "../../src/trail/failure-report.js";
import { assertInNamespaces, policyOfJob } from "../../src/worker/namespace-guard.js";
import { testDaemons } from "../support/daemons.js";
import { startGitServer } from "../support/git-server.js";
import type { GitRepo, GitServer } from "../support/git-server.js";
import { startTokenServer } from "../support/registry-token-server.js";
import type { TokenServer } from "../support/registry-token-server.js";
import { startRegistry } from "../support/stack/registry.js";
import type { RegistryInstance } from "../support/stack/registry.js";

const ACCOUNTS = { acme: 101, other: 102 } as const;
type Account = keyof typeof ACCOUNTS;

for (const daemon of testDaemons()) {
  describe(`tenancy against a per-namespace token registry on ${daemon.name}`, { skip: daemon.skip }, () => {
    const id = randomBytes(4).toString("hex");
    const passwords = { acme: `acme-${randomBytes(10).toString("hex")}`, other: `other-${randomBytes(10).toString("hex")}`, admin: `admin-${randomBytes(10).toString("hex")}` };
    let dir: string;
    let tokens: TokenServer;
    let reg: RegistryInstance;
    let git: GitServer;
    let repos: Record<Account, GitRepo>;
    let shas: Record<Account, string>;
    let tenants: Tenants;
    let capabilities: DaemonCapabilities;
    let admin: RegistryClient;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "bkb-tenancy-registry-"));
      tokens = await startTokenServer({
        dir,
        username: "admin",
        password: passwords.admin,
        users: [
          { username: "acme", password: passwords.acme, namespaces: ["acme/"] },
          { username: "other", password: passwords.other, namespaces: ["other/"] },
        ],
      });
      reg = await startRegistry({ dir, tokenAuth: tokens.registryTokenAuth() });
      git = await startGitServer();
      repos = { acme: await git.createRepo("acme", `app-${id}`), other: await git.createRepo("other", `app-${id}`) };
      shas = { acme: "", other: "" };
      for (const account of ["acme", "other"] as const) {
        git.publicRepos.add(`${account}/app-${id}`);
        shas[account] = await repos[account].commit({ Dockerfile: "FROM scratch\nCOPY owner.txt /owner.txt\n", "owner.txt": `${account} ${id}\n` });
      }
      const file = path.join(dir, "tenants.yml");
      await writeFile(
        file,
        [
          "unlisted_accounts: refuse",
          "accounts:",
          ...(["acme", "other"] as const).flatMap((account) => [
            `  - login: ${account}`,
            `    installation_id: ${ACCOUNTS[account]}`,
            "    registry:",
            `      prefix: ${reg.addr}`,
            "      credentials:",
            `        username: ${account}`,
            `        password_env: TEST_${account.toUpperCase()}_REGISTRY_PASSWORD`,
          ]),
          "",
        ].join("\n"),
      );
      tenants = loadTenants(
        file,
        { registry: { prefix: `${reg.addr}/unused`, host: reg.addr }, repoConfigLimits: DEFAULT_CONFIG_LIMITS },
        { TEST_ACME_REGISTRY_PASSWORD: passwords.acme, TEST_OTHER_REGISTRY_PASSWORD: passwords.other },
      );
      const probe = await BuildKitClient.connect(daemon.address);
      capabilities = await probe.capabilities();
      await probe.close();
      admin = new RegistryClient({ registry: reg.addr, credentials: { username: "admin", password: passwords.admin } });
    });
    after(async () => {
      await git?.close();
      await reg?.stop();
      await tokens?.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** A build job of `account`'s repository as the planner makes it, for `target`, pushing `tags`. */
    function jobOf(account: Account, target: PlanTarget, tags: string[], opts: { fork?: boolean } = {}): BuildJob {
      const repository = `${reg.addr}/${account}/app-${id}`;
      return {
        buildId: `b-${randomBytes(4).toString("hex")}`,
        attempt: 1,
        reason: target.kind === "pull_request" ? "pull_request" : "push",
        repository: { installationId: ACCOUNTS[account], repoId: ACCOUNTS[account], owner: account, repo: `app-${id}`, private: false, defaultBranch: "main", cloneUrl: repos[account].remote },
        sha: shas[account],
        gitRef: shas[account],
        image: {
          name: "app",
          context: "",
          dockerfile: "Dockerfile",
          platforms: [],
          buildArgs: {},
          tags,
          push: tags.length > 0,
          cache: planCache({ setting: { kind: "per-ref" }, imageRepository: repository, target, defaultBranch: "main" }),
        },
        supersedeKey: `${ACCOUNTS[account]}:x`,
        noCache: false,
        fork: opts.fork ?? false,
        queuedAt: new Date().toISOString(),
      };
    }

    /** What the worker does with a job: policy by installation, the request with that account's registry, the guard. */
    function workerRequest(job: BuildJob): { policy: ServedTenant; request: BuildRequest } {
      const policy = policyOfJob(tenants, job);
      const { request } = buildRequestForJob(job, { registry: policy.registry, capabilities });
      assertInNamespaces(request, policy);
      return { policy, request };
    }

    /** One connection per build, as the worker does. */
    async function solve(request: BuildRequest): Promise<BuildResult> {
      const client = await BuildKitClient.connect(daemon.address);
      try {
        return await client.solve(request);
      } finally {
        await client.close();
      }
    }

    const usersSince = (from: number): Set<string | undefined> => new Set(tokens.requests.slice(from).map((r) => r.user));

    test("each account's build pushes into its own namespace and offers the registry only its own credential", async () => {
      for (const account of ["acme", "other"] as const) {
        const from = tokens.requests.length;
        const { request } = workerRequest(jobOf(account, { kind: "branch", branch: "main" }, [`${reg.addr}/${account}/app-${id}:main`]));
        assert.deepEqual(request.registryAuth?.map((a) => [a.host, a.username]), [[reg.addr, account]]);
        const result = await solve(request);
        assert.ok(result.digest, "pushed");
        const users = usersSince(from);
        assert.ok(users.has(account), `the registry saw ${account}'s credential`);
        for (const user of users) assert.ok(user === account || user === undefined, `only ${account}'s credential was offered, saw ${String(user)}`);
        for (const r of tokens.requests.slice(from)) {
          for (const scope of r.scopes) assert.ok(scope.startsWith(`repository:${account}/`), `${account}'s build asked only for its own paths: ${scope}`);
        }
        assert.equal((await admin.headManifest(`${account}/app-${id}`, "main"))?.digest, result.digest);
      }
    });

    test("a job edited to push to the other account's path is refused by the worker before the daemon or the registry sees it", () => {
      const from = tokens.requests.length;
      const tampered = jobOf("acme", { kind: "branch", branch: "main" }, [`${reg.addr}/other/app-${id}:main`]);
      assert.throws(
        () => workerRequest(tampered),
        (err: unknown) => err instanceof OutsideNamespacesError && err.message.includes(`push ${reg.addr}/other/app-${id}:main`) && err.message.includes(`${reg.addr}/acme/`),
      );
      // Pointing the cache at the other account is refused the same way.
      const cacheOnly = jobOf("acme", { kind: "branch", branch: "main" }, []);
      cacheOnly.image.cache = { imports: [`${reg.addr}/other/app-${id}:buildcache-main`], export: `${reg.addr}/other/app-${id}:buildcache-main` };
      assert.throws(() => workerRequest(cacheOnly), OutsideNamespacesError);
      assert.equal(tokens.requests.length, from, "nothing reached the registry");
    });

    test("should the worker's check be bypassed, the registry refuses acme's credential on other's path and the build says so", async () => {
      const before = await admin.getManifest(`other/app-${id}`, "main");
      const job = jobOf("acme", { kind: "branch", branch: "main" }, [`${reg.addr}/other/app-${id}:main`]);
      job.image.cache = { imports: [] };
      const policy = policyOfJob(tenants, job);
      const { request } = buildRequestForJob(job, { registry: policy.registry, capabilities });
      const from = tokens.requests.length;
      const err = await solve(request).then(
        () => assert.fail("the push to the other account's path succeeded"),
        (e: unknown) => e,
      );
      const failure = failureOf(err, { redactor: new Redactor([passwords.acme]), durationMs: 0 });
      assert.match(failure.message, /denied|unauthori[sz]ed|insufficient_scope|authorization failed|401|403/i, failure.message);
      assert.ok(!failure.message.includes(passwords.acme));
      const asked = tokens.requests.slice(from).filter((r) => r.scopes.some((s) => s.includes("other/")));
      assert.ok(asked.length > 0, "acme's build asked for other's path");
      for (const r of asked) {
        assert.equal(r.user ?? "acme", "acme", "only acme's credential was offered");
        assert.ok(!(r.granted ?? []).some((g) => g.includes("other/")), "and the token server granted it nothing there");
      }
      assert.deepEqual((await admin.getManifest(`other/app-${id}`, "main")).body, before.body, "other's image is untouched");
    });

    test("a pull request's build, from a fork or not, leaves the base branch's cache manifest byte-for-byte unchanged", async () => {
      const repository = `acme/app-${id}`;
      const main = jobOf("acme", { kind: "branch", branch: "main" }, [`${reg.addr}/${repository}:main`]);
      assert.equal(main.image.cache.export, `${reg.addr}/${repository}:buildcache-main`);
      await solve(workerRequest(main).request);
      const baseCache = await admin.getManifest(repository, "buildcache-main");

      // New commits, so that the PRs' results differ from main's.
      for (const [n, fork] of [[41, false], [42, true]] as const) {
        const sha = await repos.acme.commit({ Dockerfile: "FROM scratch\nCOPY owner.txt /owner.txt\n", "owner.txt": `acme pr ${n} ${id}\n` }, { branch: `pr-branch-${n}` });
        const pr: PlanTarget = { kind: "pull_request", number: n, baseRef: "main", fork };
        const job = { ...jobOf("acme", pr, fork ? [] : [`${reg.addr}/${repository}:pr-${n}`], { fork }), sha, gitRef: sha };
        assert.ok(job.image.cache.imports.includes(`${reg.addr}/${repository}:buildcache-main`), "the PR reads the base branch's cache");
        const { request } = workerRequest(job);
        await solve(request);
        const after = await admin.getManifest(repository, "buildcache-main");
        assert.equal(after.digest, baseCache.digest, `PR #${n}${fork ? " (fork)" : ""}`);
        assert.deepEqual(after.body, baseCache.body);
        const own = await admin.headManifest(repository, `buildcache-pr-${n}`);
        assert.equal(own !== undefined, !fork, fork ? "a fork exports no cache at all" : "a same-repository PR keeps a cache of its own");
      }
    });
  });
}
