import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startRegistry } from "../support/stack/registry.js";
import type { RegistryInstance } from "../support/stack/registry.js";
import { startE2E } from "./support/e2e-harness.js";
import { testDaemons } from "../support/daemons.js";
import type { E2E } from "./support/e2e-harness.js";
import { base64Fragments, dumpRedis, pemBodyLines, scanForSecrets } from "./support/leak-scan.js";
import type { Secret } from "./support/leak-scan.js";
import { listTags } from "./support/registry-api.js";
import { pathComponent } from "../../src/tenancy/index.js";

/**
 * Issue 5 item 7 h: after real builds (one pushed to a registry that needs a password, one failing, one pull
 * request), no installation token, private key or registry password is anywhere we can look: the app's logs,
 * every key in Redis, every request body the app sent to GitHub, the log pages. Issue 15 item 8: nor is the
 * account's build secret (from the tenants file), which every build here mounts and the failing one prints.
 */

const TIMEOUT = 240_000;

for (const daemon of testDaemons()) {
  describe(`e2e: no secret leaks on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
    let registry: RegistryInstance;
    let registryDir: string;
    let e2e: E2E;
    const username = "bkb-pusher";
    const password = `pw-${randomBytes(18).toString("hex")}`;
    const npmToken = `npm-${randomBytes(18).toString("hex")}`;

    before(async () => {
      registryDir = await mkdtemp(join(tmpdir(), "bkb-e2e-auth-registry-"));
      registry = await startRegistry({ dir: registryDir, htpasswd: { username, password } });
      const name = `leaks-${daemon.kind}`;
      const tenantsFile = join(registryDir, "tenants.yml");
      // The harness names the owner `e2e-<name>`; its build secret comes from the app's environment.
      await writeFile(
        tenantsFile,
        `unlisted_accounts: refuse\naccounts:\n  - login: e2e-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}\n    build_secrets:\n      - id: npm_token\n        env: BKB_E2E_NPM_TOKEN\n`,
      );
      e2e = await startE2E({
        name,
        daemon,
        registry: { addr: registry.addr, username, password },
        logLevel: "debug",
        env: { BUILDKIT_BOT_TENANTS_FILE: tenantsFile, BKB_E2E_NPM_TOKEN: npmToken },
      });
    });

    after(async () => {
      await e2e?.close();
      await registry?.stop();
      if (registryDir) await rm(registryDir, { recursive: true, force: true });
    });

    it("finds no token, private key or registry password in logs, Redis, GitHub request bodies or log pages", { timeout: 600_000 }, async () => {
      const base = e2e.stack.baseImage;
      const config = "images:\n  - name: secretive\n    secrets: [npm_token]\n";
      const repo = await e2e.createRepo("secretive", { "README.md": "hi\n", ".github/buildkit-bot.yml": config });
      const mount = "--mount=type=secret,id=npm_token";
      const pushed = await e2e.push(repo, { Dockerfile: `FROM ${base}\nRUN ${mount} test -s /run/secrets/npm_token && echo ${randomBytes(4).toString("hex")} > /x\n` });
      const ok = await e2e.completedCheckRun(repo, pushed.sha, "buildkit-bot / secretive", TIMEOUT);
      assert.equal(ok.conclusion, "success", `${ok.output.title}\n${ok.output.summary}\n${ok.output.text ?? ""}`);
      const repository = `${e2e.registryPrefix.slice(registry.addr.length + 1)}/${pathComponent(e2e.owner)}/secretive`;
      const anonymous = await fetch(`http://${registry.addr}/v2/${repository}/tags/list`);
      await anonymous.arrayBuffer();
      assert.equal(anonymous.status, 401, "the registry refuses anonymous reads");
      assert.ok((await listTags(registry.addr, repository, { username, password })).includes("main"), "pushed with the password");

      // The build prints the secret, then fails: the log and the check run's tail must not show it.
      const failing = await e2e.push(repo, { Dockerfile: `FROM ${base}\nRUN ${mount} echo failing && cat /run/secrets/npm_token && cat /nonexistent\n` });
      const failed = await e2e.completedCheckRun(repo, failing.sha, "buildkit-bot / secretive", TIMEOUT);
      assert.equal(failed.conclusion, "failure");

      const baseSha = repo.heads.get("main") as string;
      await repo.git.setRef("refs/heads/topic", baseSha);
      const prSha = await e2e.commit(repo, { Dockerfile: `FROM ${base}\nRUN ${mount} test -s /run/secrets/npm_token && echo topic\n` }, { branch: "topic" });
      await repo.git.setRef("refs/pull/1/head", prSha);
      e2e.github.setPullRequest(repo.owner, repo.name, 1, { base: baseSha, head: prSha });
      await e2e.pullRequest(repo, { action: "opened", number: 1, head: { ref: "topic", sha: prSha }, base: { ref: "main", sha: baseSha } });
      const pr = await e2e.completedCheckRun(repo, prSha, "buildkit-bot / secretive", TIMEOUT);
      assert.equal(pr.conclusion, "success", `${pr.output.title}\n${pr.output.summary}`);

      // The private repository was cloned with minted tokens: there is something to look for.
      const tokens = [...e2e.github.tokens.keys()];
      assert.ok(tokens.length > 0, "the fake minted tokens");
      assert.ok(e2e.git.requests.some((r) => r.user === "x-access-token" && r.status === 200), "the daemon cloned with a token");

      const secrets: Secret[] = [
        ...tokens.map((t, i) => ({ label: `installation token #${i + 1}`, value: t })),
        ...tokens.map((t, i) => ({ label: `x-access-token:<token #${i + 1}>`, value: `x-access-token:${t}` })),
        ...pemBodyLines(e2e.privateKeyPem, "private key"),
        { label: "registry password", value: password },
        { label: "registry user:password", value: `${username}:${password}` },
        { label: "webhook secret", value: e2e.webhookSecret },
        { label: "build secret npm_token", value: npmToken },
      ];
      // Sanity: the scan finds what it looks for, in every form it can take.
      const token = tokens[0] as string;
      const registryAuth = Buffer.from(JSON.stringify({ username, password, serveraddress: registry.addr })).toString("base64url");
      for (const probe of [
        `token=${token}`,
        `Authorization: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`,
        `secret ${Buffer.from(token).toString("base64")}`,
        `X-Registry-Auth: ${registryAuth}`,
        `key ${e2e.privateKeyPem.split("\n")[5]}`,
        `npm ${npmToken}`,
      ]) {
        assert.ok(scanForSecrets(new Map([["probe", probe]]), secrets).length > 0, `the scan catches ${probe.slice(0, 24)}…`);
      }
      assert.ok(base64Fragments(password).length >= 3);

      const sources = new Map<string, string>();
      for (const app of e2e.apps) {
        sources.set(`${app.name} stdout`, await readFile(app.stdoutFile, "utf8"));
        sources.set(`${app.name} stderr`, await readFile(app.stderrFile, "utf8"));
      }
      assert.ok((sources.get("app stdout") ?? "").length > 0, "the app logged something");
      const redisDump = await dumpRedis(e2e.redisClient);
      assert.ok(redisDump.size > 0, "Redis holds the app's state");
      for (const [key, value] of redisDump) sources.set(key, value);
      for (const call of e2e.github.calls) {
        sources.set(`GitHub ${call.method} ${call.path} #${e2e.github.calls.indexOf(call)}`, `${JSON.stringify(call.query)}\n${JSON.stringify(call.body ?? null)}`);
      }
      const pages = new Set(e2e.github.findCheckRuns({ owner: repo.owner, repo: repo.name }).map((c) => c.details_url).filter((u): u is string => !!u));
      assert.ok(pages.size >= 3, "every build links a log page");
      for (const url of pages) {
        const res = await fetch(url);
        assert.equal(res.status, 200, url);
        sources.set(`log page ${new URL(url).pathname.slice(0, 12)}…`, await res.text());
      }

      const leaks = scanForSecrets(sources, secrets);
      assert.deepEqual(
        leaks.map((l) => `${l.secret} (${l.form}) in ${l.source}: …${l.context}…`),
        [],
      );
    });
  });
}
