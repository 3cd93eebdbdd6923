import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildConfig } from "../../../src/buildkit/build-config.js";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import { PushRefusedError } from "../../../src/buildkit/errors.js";
import { buildkitdDaemon } from "../../support/daemons.js";
import type { GitServer } from "../../support/git-server.js";
import { startGitServer } from "../../support/git-server.js";
import { startTokenServer } from "../../support/registry-token-server.js";
import { testStack } from "../../support/stack/env.js";
import type { RegistryInstance } from "../../support/stack/registry.js";
import { startRegistry } from "../../support/stack/registry.js";
import { writeTree } from "../../support/write-tree.js";
import { readManifest } from "../registry-reads.js";

// Paths only a standalone buildkitd takes: Control.Info, and the `image` exporter pushing by itself with the
// credentials it asks the session's Auth service for (the Engine pushes through its own API instead).
const daemon = buildkitdDaemon();
const unique = (): string => randomBytes(5).toString("hex");

/** The digest the registry's own storage has under `repository:tag` (distribution's filesystem layout). */
async function storedTag(registryDir: string, repository: string, tag: string): Promise<string> {
  const link = join(registryDir, "storage", "docker", "registry", "v2", "repositories", repository, "_manifests", "tags", tag, "current", "link");
  return (await readFile(link, "utf8")).trim();
}

describe("standalone buildkitd", { skip: daemon.skip, timeout: 900_000 }, () => {
  const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
  let git: GitServer;
  let client: BuildKitClient;
  let work: string;

  before(async () => {
    git = await startGitServer({ tokens: [TOKEN] });
    client = await BuildKitClient.connect(daemon.address);
    work = await mkdtemp(join(tmpdir(), "bkb-bkd-"));
  });
  after(async () => {
    await client?.close();
    await git?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("health uses Control.Info and reports the BuildKit version", async () => {
    const health = await client.health();
    assert.equal(health.daemon, "buildkitd");
    assert.equal(health.infoSupported, true);
    assert.equal(health.address, daemon.address);
    // The stack's daemon is v0.24.0; an external one (BKB_TEST_BUILDKITD_ADDR) may be any release.
    assert.match(health.version?.buildkit ?? "", /^v?\d+\.\d+\.\d+/);
    assert.ok(health.workers.length > 0 && health.workers.every((w) => w.platforms.length > 0));
    assert.ok(health.workers.some((w) => w.platforms.includes("linux/amd64")), JSON.stringify(health.workers));
  });

  test("the image exporter pushes, and the result digest is the registry's", { timeout: 300_000 }, async () => {
    const stack = testStack();
    const repo = await git.createRepo("octo", `bkd-${unique()}`);
    const sha = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo ${unique()} > /x\n` });
    const repository = `bkb-test/bkd-${unique()}`;
    const names = [`${stack.registry}/${repository}:latest`];
    const result = await client.solve({
      context: { type: "git", remote: repo.remote, ref: sha },
      gitAuthToken: TOKEN,
      output: { type: "image", names, push: true, insecure: true },
    });
    assert.equal(result.timings.pushMs, 0, "the daemon pushed by itself; no client-side push step");
    const pushed = await readManifest(stack.registry, repository, "latest");
    assert.equal(pushed.status, 200);
    assert.equal(pushed.digest, result.digest);
  });

  describe("pushing to a registry that needs auth, with credentials from the session's Auth service", () => {
    const USER = "ci-pusher";
    const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;

    async function pushTo(registry: string, repository: string, password: string) {
      const context = await writeTree(join(work, `auth-${unique()}`), { Dockerfile: `FROM scratch\nCOPY Dockerfile /df-${unique()}\n` });
      return client.solve(
        BuildConfig.local(context)
          .registryAuth(registry, USER, password)
          .output({ type: "image", names: [`${registry}/${repository}:1`], push: true, insecure: true })
          .build(),
      );
    }

    async function refusal(promise: Promise<unknown>): Promise<PushRefusedError> {
      const err = await promise.then(
        () => assert.fail("the push succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PushRefusedError, `expected PushRefusedError, got ${String(err)}`);
      return err;
    }

    function assertNoPassword(err: Error): void {
      for (let e: unknown = err; e instanceof Error; e = e.cause) {
        assert.ok(!e.message.includes(PASSWORD) && !String(e.stack).includes(PASSWORD), "the password never appears in an error");
      }
    }

    describe("basic auth (htpasswd)", () => {
      let dir: string;
      let registry: RegistryInstance;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), "bkb-basic-registry-"));
        registry = await startRegistry({ dir, htpasswd: { username: USER, password: PASSWORD } });
      });
      after(async () => {
        await registry?.stop();
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      test("the right password pushes: the registry stores the manifest under the tag", { timeout: 300_000 }, async () => {
        const repository = `bkb-test/basic-${unique()}`;
        const result = await pushTo(registry.addr, repository, PASSWORD);
        assert.match(result.digest ?? "", /^sha256:[0-9a-f]{64}$/);
        assert.equal(await storedTag(dir, repository, "1"), result.digest);
        const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
        const pushed = await readManifest(registry.addr, repository, "1", { Authorization: authorization });
        assert.equal(pushed.status, 200);
        assert.equal(pushed.digest, result.digest);
      });

      test("a wrong password is refused with a PushRefusedError naming the registry; nothing is stored", { timeout: 300_000 }, async (t) => {
        const repository = `bkb-test/basic-wrong-${unique()}`;
        const err = await refusal(pushTo(registry.addr, repository, `${PASSWORD}-wrong`));
        t.diagnostic(err.message);
        assert.equal(err.registry, registry.addr);
        assert.equal(err.transient, false, "wrong credentials are not worth a retry");
        assert.match(err.message, /401 Unauthorized/);
        assert.ok(err.message.includes(registry.addr), err.message);
        assertNoPassword(err);
        await assert.rejects(storedTag(dir, repository, "1"), /ENOENT/);
      });
    });

    describe("token auth (a registry that sends clients to a token server)", () => {
      let dir: string;
      let registry: RegistryInstance;
      let tokens: Awaited<ReturnType<typeof startTokenServer>>;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), "bkb-token-registry-"));
        tokens = await startTokenServer({ dir, username: USER, password: PASSWORD });
        registry = await startRegistry({ dir, tokenAuth: tokens.registryTokenAuth() });
      });
      after(async () => {
        await registry?.stop();
        await tokens?.close();
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      test("the right password gets a push token from the token server; the registry stores the manifest", { timeout: 300_000 }, async () => {
        const repository = `bkb-test/token-${unique()}`;
        const before = tokens.requests.length;
        const result = await pushTo(registry.addr, repository, PASSWORD);
        assert.equal(await storedTag(dir, repository, "1"), result.digest);
        const issued = tokens.requests.slice(before).filter((r) => r.status === 200 && r.user === USER);
        assert.ok(
          issued.some((r) => r.scopes.some((s) => s.startsWith(`repository:${repository}:`) && s.includes("push"))),
          `a push token for ${repository} was issued to ${USER}: ${JSON.stringify(tokens.requests.slice(before))}`,
        );
      });

      test("a wrong password is refused by the token server, and the push with a PushRefusedError", { timeout: 300_000 }, async (t) => {
        const repository = `bkb-test/token-wrong-${unique()}`;
        const before = tokens.requests.length;
        const err = await refusal(pushTo(registry.addr, repository, `${PASSWORD}-wrong`));
        t.diagnostic(err.message);
        assert.equal(err.registry, registry.addr);
        assert.equal(err.transient, false);
        // The token server's own refusal, passed through by BuildKit.
        assert.match(err.message, /failed to fetch oauth token: unauthorized: invalid username or password/);
        assertNoPassword(err);
        const refused = tokens.requests.slice(before);
        assert.ok(refused.some((r) => r.user === USER && r.status === 401), `the token server refused ${USER}: ${JSON.stringify(refused)}`);
        assert.ok(!refused.some((r) => r.status === 200 && r.user === USER), "no token was issued to the wrong password");
        await assert.rejects(storedTag(dir, repository, "1"), /ENOENT/);
      });
    });
  });
});
