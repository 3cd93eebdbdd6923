import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { RegistryClient } from "../../src/buildkit/registry/registry-client.js";
import type { BuildJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { testDaemons } from "../support/daemons.js";
import { startTokenServer } from "../support/registry-token-server.js";
import type { TokenServer } from "../support/registry-token-server.js";
import { startRegistry } from "../support/stack/registry.js";
import type { RegistryInstance } from "../support/stack/registry.js";
import { describeRuns, startE2E } from "./support/e2e-harness.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { ZERO_SHA } from "./support/payloads.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 15 point 6, the escape battery: the real app (role all) with a tenants file of two accounts, each pushing
 * with its own credential to a token-auth registry that grants each user only its own namespace, plus an unlisted
 * account served with the defaults' credential. Each kind of attempt to reach the other tenant is driven as a real
 * delivery (or, for the tampered job, an edit of the build job in Redis before a worker takes it) and must be
 * refused where the user sees it, with no token asked for the other tenant's path and the other tenant's manifest
 * byte-for-byte unchanged. The last subtest prints the tried / refused table.
 */
const TIMEOUT = 180_000;
const NAME = "tenancy-escape";
const OTHER = "other";
const STRANGER = "stranger";
const OTHER_INSTALLATION = 4200;
const STRANGER_INSTALLATION = 4300;
const run = promisify(execFile);

interface Outcome {
  kind: string;
  refused: boolean;
  /** Where the user sees the refusal. */
  how: string;
}

for (const daemon of testDaemons()) {
  describe(`e2e: tenancy escape battery on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    const id = randomBytes(4).toString("hex");
    const pw = { acme: `acme-${id}-${randomBytes(8).toString("hex")}`, other: `other-${randomBytes(10).toString("hex")}`, shared: `shared-${randomBytes(10).toString("hex")}`, admin: `admin-${randomBytes(10).toString("hex")}` };
    const secretValue = `npm-secret-${randomBytes(10).toString("hex")}`;
    const outcomes: Outcome[] = [];
    let dir: string;
    let tokens: TokenServer;
    let reg: RegistryInstance;
    let e2e: E2E;
    let admin: RegistryClient;
    let acme: string;
    let otherApp: E2ERepo;
    let otherBaseline: { digest: string; body: Buffer } | undefined;

    const REG = (): string => reg.addr;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "bkb-escape-"));
      acme = `e2e-${NAME}`;
      tokens = await startTokenServer({
        dir,
        username: "admin",
        password: pw.admin,
        users: [
          { username: acme, password: pw.acme, namespaces: [`${acme}/`] },
          { username: OTHER, password: pw.other, namespaces: [`${OTHER}/`] },
          { username: "shared", password: pw.shared, namespaces: [`${STRANGER}/`] },
        ],
      });
      reg = await startRegistry({ dir, tokenAuth: tokens.registryTokenAuth() });
      const tenantsFile = join(dir, "tenants.yml");
      const registryOf = (user: string, env: string): string[] => ["    registry:", `      prefix: ${reg.addr}`, "      credentials:", `        username: ${user}`, `        password_env: ${env}`];
      await writeFile(
        tenantsFile,
        [
          "unlisted_accounts: serve",
          "defaults:",
          "  registry:",
          `    prefix: ${reg.addr}`,
          "    credentials:",
          "      username: shared",
          "      password_env: ESCAPE_SHARED_PASSWORD",
          "accounts:",
          `  - login: ${acme}`,
          "    fork_policy: never",
          ...registryOf(acme, "ESCAPE_ACME_PASSWORD"),
          "    build_secrets:",
          "      - id: npm-token",
          "        env: ESCAPE_ACME_NPM_TOKEN",
          "        repositories: [secretive]",
          `  - login: ${OTHER}`,
          `    installation_id: ${OTHER_INSTALLATION}`,
          "    fork_policy: approve",
          ...registryOf(OTHER, "ESCAPE_OTHER_PASSWORD"),
          "",
        ].join("\n"),
      );
      e2e = await startE2E({
        name: NAME,
        daemon,
        registry: { addr: reg.addr },
        env: {
          BUILDKIT_BOT_TENANTS_FILE: tenantsFile,
          ESCAPE_SHARED_PASSWORD: pw.shared,
          ESCAPE_ACME_PASSWORD: pw.acme,
          ESCAPE_OTHER_PASSWORD: pw.other,
          ESCAPE_ACME_NPM_TOKEN: secretValue,
        },
      });
      assert.equal(e2e.owner, acme);
      e2e.github.addInstallation(OTHER_INSTALLATION, OTHER);
      e2e.github.addInstallation(STRANGER_INSTALLATION, STRANGER);
      admin = new RegistryClient({ registry: reg.addr, credentials: { username: "admin", password: pw.admin } });
    });

    after(async () => {
      await e2e?.close();
      await reg?.stop();
      await tokens?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A repository of another installation, shaped as the harness shapes its own. */
    async function repoOf(installationId: number, owner: string, name: string, files: Record<string, string>, opts: { private?: boolean } = {}): Promise<E2ERepo> {
      const isPrivate = opts.private ?? true;
      const git = await e2e.github.createRepo(installationId, owner, name, { private: isPrivate });
      await git.commit(files, { message: "initial commit" });
      return { installationId, repoId: git.id, owner, name, private: isPrivate, defaultBranch: "main", fullName: `${owner}/${name}`, git, heads: new Map([["main", ZERO_SHA]]) };
    }

    const dockerfile = (marker: string): Record<string, string> => ({ Dockerfile: "FROM scratch\nCOPY owner.txt /owner.txt\n", "owner.txt": `${marker} ${id}\n` });

    /** Token requests since `from` by anyone but the test's own admin reads. */
    const appRequests = (from: number) => tokens.requests.slice(from).filter((r) => r.user !== "admin");

    /** Nothing reached the registry for `owner`'s namespace since `from`, and other/app's manifest is as it was. */
    async function assertOtherUntouched(from: number, owner = OTHER): Promise<void> {
      for (const r of appRequests(from)) {
        for (const scope of r.scopes) assert.ok(!scope.startsWith(`repository:${owner}/`), `a token was asked for ${owner}'s path: ${scope} by ${String(r.user)}`);
      }
      if (otherBaseline) {
        const now = await admin.getManifest(`${OTHER}/app`, "main");
        assert.equal(now.digest, otherBaseline.digest);
        assert.deepEqual(now.body, otherBaseline.body, "other/app:main is byte-for-byte unchanged");
      }
    }

    async function buildsOf(repo: E2ERepo, sha: string): Promise<BuildJob[]> {
      return (await e2e.buildJobs()).filter((b) => b.repository.repoId === repo.repoId && b.sha === sha);
    }

    /** Pushes `config` and expects the config check to fail, naming `expect` on the config's line; nothing is built. */
    async function refusedByConfigCheck(repo: E2ERepo, config: string, expect: RegExp, line: number): Promise<string> {
      const { sha } = await e2e.push(repo, { ...dockerfile(repo.name), ".github/buildkit-bot.yml": config });
      const check = await e2e.completedCheckRun(repo, sha, "buildkit-bot / config", TIMEOUT);
      assert.equal(check.conclusion, "failure", describeRuns(e2e.github, repo));
      const hit = check.annotations.find((a) => expect.test(a.message));
      assert.ok(hit, `an annotation matching ${String(expect)}: ${JSON.stringify(check.annotations.map((a) => a.message))}`);
      assert.equal(hit.path, ".github/buildkit-bot.yml");
      assert.equal(hit.start_line, line);
      // Give the planner the time it would take to queue anything, then check it queued nothing.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(await buildsOf(repo, sha), [], "nothing built");
      return `config check failed, line ${line}: ${hit.message}`;
    }

    /** Runs one kind of escape, recording whether it was refused (a failed assertion counts as not refused). */
    async function attempt(kind: string, body: () => Promise<string>): Promise<void> {
      try {
        outcomes.push({ kind, refused: true, how: await body() });
      } catch (err) {
        outcomes.push({ kind, refused: false, how: String(err).split("\n")[0] ?? "" });
        throw err;
      }
    }

    const outside = (path: string): RegExp => new RegExp(`"${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[^"]*" is outside the account's namespaces`);

    it("positive: acme/app and other/app build side by side, each only into its own namespace", { timeout: TIMEOUT * 2 }, async () => {
      await attempt("same repo names (acme/app, other/app)", async () => {
        otherApp = await repoOf(OTHER_INSTALLATION, OTHER, "app", { "README.md": "other\n" });
        const acmeApp = await e2e.createRepo("app", { "README.md": "acme\n" });
        const from = tokens.requests.length;
        const [o, a] = await Promise.all([e2e.push(otherApp, dockerfile("other")), e2e.push(acmeApp, dockerfile("acme"))]);
        const [oRun, aRun] = await Promise.all([e2e.completedCheckRun(otherApp, o.sha, "buildkit-bot / app", TIMEOUT), e2e.completedCheckRun(acmeApp, a.sha, "buildkit-bot / app", TIMEOUT)]);
        assert.equal(oRun.conclusion, "success", `${oRun.output.title}\n${oRun.output.summary}`);
        assert.equal(aRun.conclusion, "success", `${aRun.output.title}\n${aRun.output.summary}`);
        const oMan = await admin.getManifest(`${OTHER}/app`, "main");
        const aMan = await admin.getManifest(`${acme}/app`, "main");
        assert.notEqual(oMan.digest, aMan.digest, "two images, one per account");
        otherBaseline = { digest: oMan.digest, body: oMan.body };
        for (const r of appRequests(from)) {
          assert.ok(r.user === acme || r.user === OTHER || r.user === undefined, `only the two accounts' credentials: ${String(r.user)}`);
          const own = r.user ?? "";
          for (const scope of r.scopes) assert.ok(r.user === undefined || scope.startsWith(`repository:${own}/`), `${own} asked only for its own paths: ${scope}`);
          for (const g of r.granted ?? []) assert.ok(g.startsWith(`repository:${own}/`), `granted only its own: ${g}`);
        }
        // acme builds again: other's image stays byte-for-byte as it was, and nothing asks for other's path.
        const fromAgain = tokens.requests.length;
        const again = await e2e.push(acmeApp, dockerfile("acme again"));
        assert.equal((await e2e.completedCheckRun(acmeApp, again.sha, "buildkit-bot / app", TIMEOUT)).conclusion, "success");
        assert.notEqual((await admin.getManifest(`${acme}/app`, "main")).digest, aMan.digest, "acme's image moved");
        await assertOtherUntouched(fromAgain);
        return "each image in its own namespace; other/app:main unchanged by acme's next push";
      });
    });

    it("names differing by `-`: repo shop's image api and repo shop-api land on distinct paths", { timeout: TIMEOUT * 2 }, async () => {
      await attempt("names differing by '-' (shop + api vs shop-api)", async () => {
        const shop = await e2e.createRepo("shop", { "README.md": "shop\n" });
        const shopApi = await e2e.createRepo("shop-api", { "README.md": "shop-api\n" });
        const from = tokens.requests.length;
        const s = await e2e.push(shop, { ...dockerfile("shop"), ".github/buildkit-bot.yml": "images:\n  - name: api\n  - name: web\n" });
        assert.equal((await e2e.completedCheckRun(shop, s.sha, "buildkit-bot / api", TIMEOUT)).conclusion, "success");
        assert.equal((await e2e.completedCheckRun(shop, s.sha, "buildkit-bot / web", TIMEOUT)).conclusion, "success");
        const shopApiImage = await admin.getManifest(`${acme}/shop/api`, "main");
        const sa = await e2e.push(shopApi, dockerfile("shop-api"));
        assert.equal((await e2e.completedCheckRun(shopApi, sa.sha, "buildkit-bot / shop-api", TIMEOUT)).conclusion, "success");
        assert.ok(await admin.headManifest(`${acme}/shop-api`, "main"));
        assert.deepEqual((await admin.getManifest(`${acme}/shop/api`, "main")).body, shopApiImage.body, "shop/api untouched by shop-api");
        await assertOtherUntouched(from);
        return `${acme}/shop/api and ${acme}/shop-api are distinct; shop/api unchanged`;
      });
    });

    const configEscapes: Array<{ kind: string; config: () => string; expect: () => RegExp; line: number }> = [
      { kind: "`repository:` aimed at the other tenant", config: () => `images:\n  - name: app\n    repository: ${REG()}/${OTHER}/app\n`, expect: () => outside(`${REG()}/${OTHER}/app`), line: 3 },
      { kind: "`cache.ref` aimed at the other tenant", config: () => `images:\n  - name: app\n    cache:\n      ref: ${REG()}/${OTHER}/app\n`, expect: () => outside(`${REG()}/${OTHER}/app`), line: 4 },
      { kind: "a fixed cache tag of the other tenant", config: () => `images:\n  - name: app\n    cache:\n      ref: ${REG()}/${OTHER}/app:buildcache-main\n`, expect: () => outside(`${REG()}/${OTHER}/app:buildcache-main`), line: 4 },
      { kind: "`../` out of the own namespace", config: () => `images:\n  - name: app\n    repository: ${REG()}/${acme}/../${OTHER}/app\n`, expect: () => /outside the account's namespaces|not a valid|\.\./, line: 3 },
      { kind: "case trick (OTHER/App, Acme-cased prefix)", config: () => `images:\n  - name: app\n    repository: ${REG()}/${OTHER.toUpperCase()}/App\n`, expect: () => /outside the account's namespaces|not a valid image repository/, line: 3 },
      { kind: "owner-prefix trick (`<acme>-evil/`, no namespace boundary)", config: () => `images:\n  - name: app\n    repository: ${REG()}/${acme}-evil/app\n`, expect: () => outside(`${REG()}/${acme}-evil/app`), line: 3 },
      { kind: "build secret given to another repository", config: () => "images:\n  - name: app\n    secrets: [npm-token]\n", expect: () => /npm-token/, line: 3 },
    ];
    for (const c of configEscapes) {
      it(`refused by the config check: ${c.kind}`, { timeout: TIMEOUT }, async () => {
        await attempt(c.kind, async () => {
          const repo = await e2e.createRepo(`cfg-${outcomes.length}`, { "README.md": "x\n" });
          const from = tokens.requests.length;
          const how = await refusedByConfigCheck(repo, c.config(), c.expect(), c.line);
          assert.deepEqual(appRequests(from), [], "no token request at all");
          await assertOtherUntouched(from);
          return how;
        });
      });
    }

    it("refused by the config check: the other account's repository naming acme's build secret", { timeout: TIMEOUT }, async () => {
      await attempt("another account's build secret", async () => {
        const repo = await repoOf(OTHER_INSTALLATION, OTHER, "secretive", { "README.md": "x\n" });
        const from = tokens.requests.length;
        const how = await refusedByConfigCheck(repo, "images:\n  - name: app\n    secrets: [npm-token]\n", /npm-token/, 3);
        assert.deepEqual(appRequests(from), []);
        await assertOtherUntouched(from, acme);
        return how;
      });
    });

    /** `refusedBy`: what refuses it (default the worker's namespace guard); either way the job fails for good. */
    const tamperings: Array<{ kind: string; edit: (job: BuildJob) => BuildJob; names: () => RegExp; refusedBy?: RegExp }> = [
      {
        kind: "tampered job in Redis: tags and cache at the other tenant",
        edit: (job) => {
          const target = `${REG()}/${OTHER}/app`;
          return { ...job, image: { ...job.image, tags: [`${target}:main`], cache: { imports: [`${target}:buildcache-main`], export: `${target}:buildcache-main` } } };
        },
        names: () => new RegExp(`${OTHER}/app`),
      },
      {
        kind: "tampered job in Redis: `../` in the tag (past the config schema)",
        edit: (job) => ({ ...job, image: { ...job.image, tags: [`${REG()}/${acme}/../${OTHER}/app:main`] } }),
        names: () => /\.\.\//,
      },
      {
        kind: "tampered job in Redis: upper-case tag (past the config schema)",
        edit: (job) => ({ ...job, image: { ...job.image, tags: [`${REG()}/${acme.toUpperCase()}/app:main`] } }),
        names: () => new RegExp(acme.toUpperCase()),
      },
      {
        kind: "tampered job in Redis: owner renamed to the other tenant",
        edit: (job) => ({ ...job, repository: { ...job.repository, owner: OTHER }, image: { ...job.image, tags: [`${REG()}/${OTHER}/app:main`] } }),
        names: () => new RegExp(`${OTHER}`),
      },
      {
        // The job id (what the queue stored it under) names acme's installation: the queue refuses the job before it
        // takes a slot, and no token is asked for either installation.
        kind: "tampered job in Redis: installation and owner both swapped to the other tenant",
        edit: (job) => ({ ...job, repository: { ...job.repository, installationId: OTHER_INSTALLATION, owner: OTHER }, image: { ...job.image, tags: [`${REG()}/${OTHER}/app:main`] } }),
        names: () => new RegExp(`but its data names installation ${OTHER_INSTALLATION}`),
        refusedBy: /refused: build job bld-\d+-\S+ belongs to installation \d+/,
      },
      {
        // A complete forgery of the other tenant's job (installation, owner, repository, tags, cache), only the
        // clone URL still acme's: the namespace guard cannot tell it from the other tenant's own job, but its id
        // still names acme's installation, so the queue refuses it before it takes a slot.
        kind: "tampered job in Redis: installation, owner and repository id swapped, acme's clone URL kept",
        edit: (job) => ({ ...job, repository: { ...job.repository, installationId: OTHER_INSTALLATION, owner: OTHER, repoId: otherApp.repoId, repo: "app" }, image: { ...job.image, tags: [`${REG()}/${OTHER}/app:main`], ifBranchMoved: undefined, cache: { imports: [], export: `${REG()}/${OTHER}/app:buildcache-main` } } }),
        names: () => new RegExp(`but its data names installation ${OTHER_INSTALLATION}`),
        refusedBy: /refused: build job bld-\d+-\S+ belongs to installation \d+/,
      },
    ];
    for (const [n, c] of tamperings.entries()) {
      it(`refused by the worker: ${c.kind}`, { timeout: TIMEOUT }, async () => {
        await attempt(c.kind, async () => {
          const repo = await e2e.createRepo(`tamper-${n}`, { "README.md": "x\n" });
          const queue = new Queue<BuildJob>(QueueName.Builds, { connection: e2e.redisClient, prefix: e2e.queuePrefix });
          try {
            // Paused, the workers take nothing (not even the turn that would let the parked build through): the job waits
            // in Redis while the test edits it.
            await queue.pause();
            const from = tokens.requests.length;
            const { sha } = await e2e.push(repo, dockerfile(`tamper-${n}`));
            const job = await eventually(async () => (await queue.getJobs(["waiting", "wait", "prioritized", "delayed"])).find((j) => j?.data.sha === sha), "the build job to be queued", { timeoutMs: 60_000 });
            await job.updateData(c.edit(job.data));
            await queue.resume();
            // Failed for good (a kept token the git server refuses is dropped and the attempt retried with a fresh one,
            // which the git server refuses too): the last attempt's reason.
            const failed = await eventually(
              async () => {
                const j = await queue.getJob(job.id!);
                return j && (await j.isFailed()) ? j.failedReason || undefined : undefined;
              },
              "the tampered job to fail",
              { timeoutMs: TIMEOUT },
            );
            assert.match(failed, c.refusedBy ?? /refused|outside|belongs to/, failed);
            assert.match(failed, c.names());
            if (c.edit(job.data).repository.owner === acme) {
              // Where the user sees it: the image's check run fails saying why.
              const check = await e2e.completedCheckRun(repo, sha, `buildkit-bot / tamper-${n}`, TIMEOUT);
              assert.equal(check.conclusion, "failure", describeRuns(e2e.github, repo));
              assert.match(`${check.output.summary ?? ""}\n${check.output.text ?? ""}`, /refused/);
            }
            assert.equal((await queue.getJob(job.id!))?.attemptsMade, 1, "no retry");
            await assertOtherUntouched(from);
            assert.deepEqual(appRequests(from), [], "no token request at all");
            return `job failed, no retry: ${failed.split("\n")[0] ?? ""}`;
          } finally {
            await queue.resume().catch(() => undefined);
            await queue.close();
          }
        });
      });
    }

    /** A fork PR from a stranger: the fork's commit reaches the base only through the PR's ref. */
    async function forkPr(repo: E2ERepo, number: number): Promise<string> {
      const baseSha = await e2e.commit(repo, dockerfile("base"));
      const headSha = await e2e.commit(repo, { ...dockerfile("fork"), ".github/buildkit-bot.yml": `images:\n  - name: app\n    repository: ${REG()}/${repo.owner === OTHER ? acme : OTHER}/app\n` }, { branch: "fork-tmp" });
      await repo.git.setRef(`refs/pull/${number}/head`, headSha);
      await run("git", ["update-ref", "-d", "refs/heads/fork-tmp"], { cwd: repo.git.dir });
      e2e.github.setPullRequest(repo.owner, repo.name, number, { base: baseSha, head: `refs/pull/${number}/head`, headRepo: `forker/${repo.name}`, authorAssociation: "NONE" });
      await e2e.pullRequest(repo, { action: "opened", number, head: { ref: "patch-1", sha: headSha }, base: { ref: "main", sha: baseSha }, forkOwner: "forker", authorAssociation: "NONE" });
      return headSha;
    }

    it("a fork PR under `never` (acme): one neutral check run, no build", { timeout: TIMEOUT }, async () => {
      await attempt("fork PR under `never`", async () => {
        const repo = await e2e.createRepo("forked-never", { "README.md": "x\n" }, { private: false });
        const from = tokens.requests.length;
        const sha = await forkPr(repo, 5);
        const gate = await e2e.completedCheckRun(repo, sha, "buildkit-bot", TIMEOUT);
        assert.equal(gate.conclusion, "neutral", describeRuns(e2e.github, repo));
        await new Promise((r) => setTimeout(r, 1_000));
        assert.deepEqual(await buildsOf(repo, sha), []);
        assert.deepEqual(appRequests(from), []);
        await assertOtherUntouched(from);
        return `gate check run ${gate.conclusion}: ${gate.output.title ?? ""}`;
      });
    });

    it("a fork PR under `approve` without approval (other): action_required, no build", { timeout: TIMEOUT }, async () => {
      await attempt("fork PR under `approve`, not approved", async () => {
        const repo = await repoOf(OTHER_INSTALLATION, OTHER, "forked-approve", { "README.md": "x\n" }, { private: false });
        const from = tokens.requests.length;
        const sha = await forkPr(repo, 6);
        const gate = await e2e.completedCheckRun(repo, sha, "buildkit-bot", TIMEOUT);
        assert.equal(gate.conclusion, "action_required", describeRuns(e2e.github, repo));
        await new Promise((r) => setTimeout(r, 1_000));
        assert.deepEqual(await buildsOf(repo, sha), []);
        assert.deepEqual(appRequests(from), []);
        await assertOtherUntouched(from, acme);
        return `gate check run ${gate.conclusion}: ${gate.output.title ?? ""}`;
      });
    });

    it("an unlisted account's build offers only the defaults' credential, never a listed account's", { timeout: TIMEOUT }, async () => {
      await attempt("listed account's credential on an unlisted account's build", async () => {
        const repo = await repoOf(STRANGER_INSTALLATION, STRANGER, "app", { "README.md": "x\n" });
        const from = tokens.requests.length;
        const { sha } = await e2e.push(repo, dockerfile("stranger"));
        const check = await e2e.completedCheckRun(repo, sha, "buildkit-bot / app", TIMEOUT);
        assert.equal(check.conclusion, "success", `${check.output.title}\n${check.output.summary}`);
        assert.ok(await admin.headManifest(`${STRANGER}/app`, "main"));
        const users = new Set(appRequests(from).map((r) => r.user));
        assert.ok(users.has("shared"), "the defaults' credential was used");
        for (const u of users) assert.ok(u === "shared" || u === undefined, `only the defaults' credential was offered, saw ${String(u)}`);
        await assertOtherUntouched(from);
        await assertOtherUntouched(from, acme);
        // And aiming at a listed account from the unlisted one is refused like any other escape.
        const cfg = await repoOf(STRANGER_INSTALLATION, STRANGER, "aim", { "README.md": "x\n" });
        const how = await refusedByConfigCheck(cfg, `images:\n  - name: app\n    repository: ${REG()}/${acme}/app\n`, outside(`${REG()}/${acme}/app`), 3);
        return `built with the defaults' credential only; aiming at acme: ${how}`;
      });
    });

    it("tried / refused", (t) => {
      const rows = outcomes.map((o) => `${o.refused ? "refused" : "NOT REFUSED"} | ${o.kind} | ${o.how}`);
      t.diagnostic(`tenancy escape battery on ${daemon.name}: tried ${outcomes.length}, refused ${outcomes.filter((o) => o.refused).length}\n${rows.join("\n")}`);
      assert.ok(outcomes.length >= 19, `every kind was tried (${outcomes.length})`);
      assert.deepEqual(outcomes.filter((o) => !o.refused).map((o) => o.kind), []);
    });
  });
}
