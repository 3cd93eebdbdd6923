import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Probot } from "probot";
import { startFakeGitHub, type FakeGitHub } from "./fake-github/index.js";
import { createAppCredentials, signAppJwt } from "./fake-github/app-credentials.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const creds = createAppCredentials(4242);
const otherCreds = createAppCredentials(4242);

let fake: FakeGitHub;
let token: string;

async function api(method: string, path: string, body?: unknown, auth = `token ${token}`): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: auth, "content-type": "application/json", accept: "application/vnd.github+json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function mint(jwt: string, body: unknown = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return api("POST", "/app/installations/7/access_tokens", body, `Bearer ${jwt}`);
}

before(async () => {
  fake = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, webhookSecret: "hook-secret" });
  fake.addInstallation(7, "acme");
  fake.addRepository({ installationId: 7, owner: "acme", name: "api" });
  fake.addRepository({ installationId: 7, owner: "acme", name: "web" });
  fake.addRepository({ installationId: 8, owner: "other", name: "thing" });
  const res = await mint(signAppJwt(creds.privateKeyPem, { iss: creds.appId }));
  assert.equal(res.status, 201);
  token = String(res.json.token);
});

after(async () => {
  await fake.close();
});

describe("app JWT", () => {
  test("Probot's own client authenticates and gets an installation token", async () => {
    const probot = new Probot({ appId: creds.appId, privateKey: creds.privateKeyPem, baseUrl: fake.url, logLevel: "warn" });
    const octokit = await probot.auth(7);
    const res = await octokit.request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", { owner: "acme", repo: "api", check_run_id: 1 }).catch((e: { status: number }) => e);
    assert.equal((res as { status: number }).status, 404, "authenticated (404 for a missing run, not 401)");
    const minted = fake.calls.filter((c) => c.path === "/app/installations/7/access_tokens" && c.status === 201);
    assert.ok(minted.length >= 2);
  });

  const refused: Array<[string, () => string]> = [
    ["signed with another key", () => signAppJwt(otherCreds.privateKeyPem, { iss: creds.appId })],
    ["another app id", () => signAppJwt(creds.privateKeyPem, { iss: 99 })],
    ["expired", () => signAppJwt(creds.privateKeyPem, { iss: creds.appId, iat: Math.floor(Date.now() / 1000) - 1200, exp: Math.floor(Date.now() / 1000) - 600 })],
    ["valid for more than 10 minutes", () => signAppJwt(creds.privateKeyPem, { iss: creds.appId, exp: Math.floor(Date.now() / 1000) + 3600 })],
    ["issued in the future", () => signAppJwt(creds.privateKeyPem, { iss: creds.appId, iat: Math.floor(Date.now() / 1000) + 300, exp: Math.floor(Date.now() / 1000) + 600 })],
    ["alg none", () => signAppJwt(creds.privateKeyPem, { iss: creds.appId }, { alg: "none" })],
    ["not a JWT", () => "garbage"],
  ];
  for (const [what, jwt] of refused) {
    test(`a JWT ${what} gets 401`, async () => {
      const res = await mint(jwt());
      assert.equal(res.status, 401);
      assert.match(String(res.json.message), /JSON web token/);
    });
  }

  test("an installation token is not accepted where a JWT is required, and vice versa", async () => {
    assert.equal((await api("GET", "/app/installations/7", undefined, `token ${token}`)).status, 401);
    const jwt = signAppJwt(creds.privateKeyPem, { iss: creds.appId });
    assert.equal((await api("POST", "/repos/acme/api/check-runs", { name: "x", head_sha: SHA }, `Bearer ${jwt}`)).status, 401);
    assert.equal((await api("GET", "/app/installations/7", undefined, `Bearer ${jwt}`)).status, 200);
    assert.equal((await api("GET", "/repos/acme/api/installation", undefined, `Bearer ${jwt}`)).status, 200);
  });

  test("no credentials or an unknown token gets 401", async () => {
    assert.equal((await api("POST", "/repos/acme/api/check-runs", { name: "x", head_sha: SHA }, "")).status, 401);
    assert.equal((await api("POST", "/repos/acme/api/check-runs", { name: "x", head_sha: SHA }, "token ghs_notminted")).status, 401);
  });
});

describe("installation tokens", () => {
  test("are ghs_-shaped, expire in an hour and record what was asked", async () => {
    const body = { repositories: ["api"], permissions: { checks: "write", contents: "read" } };
    const res = await mint(signAppJwt(creds.privateKeyPem, { iss: creds.appId }), body);
    assert.equal(res.status, 201);
    assert.match(String(res.json.token), /^ghs_[A-Za-z0-9]{36}$/);
    const ttl = Date.parse(String(res.json.expires_at)) - Date.now();
    assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `ttl ${ttl}`);
    assert.deepEqual(res.json.permissions, { checks: "write", contents: "read" });
    const minted = fake.tokens.get(String(res.json.token));
    assert.deepEqual(minted?.requested, body);
    assert.deepEqual([...(minted?.repositories ?? [])], ["acme/api"]);
    assert.deepEqual(fake.calls.at(-1)?.body, body);
  });

  test("a token scoped to one repository cannot write to another (404) nor beyond its permissions (403)", async () => {
    const res = await mint(signAppJwt(creds.privateKeyPem, { iss: creds.appId }), { repository_ids: [fake.repositories.get("acme/api")?.id], permissions: { checks: "write" } });
    const scoped = `token ${String(res.json.token)}`;
    assert.equal((await api("POST", "/repos/acme/api/check-runs", { name: "x", head_sha: SHA }, scoped)).status, 201);
    assert.equal((await api("POST", "/repos/acme/web/check-runs", { name: "x", head_sha: SHA }, scoped)).status, 404);
    assert.equal((await api("POST", "/repos/acme/api/statuses/" + SHA, { state: "success", context: "c" }, scoped)).status, 403);
    assert.equal((await api("POST", "/repos/other/thing/check-runs", { name: "x", head_sha: SHA })).status, 404, "other installation");
  });

  test("asking for a repository or permission the installation lacks is 422", async () => {
    const jwt = signAppJwt(creds.privateKeyPem, { iss: creds.appId });
    assert.equal((await mint(jwt, { repositories: ["thing"] })).status, 422);
    assert.equal((await mint(jwt, { permissions: { administration: "write" } })).status, 422);
    assert.equal((await api("POST", "/app/installations/999/access_tokens", {}, `Bearer ${jwt}`)).status, 404);
  });

  test("GET /installation/repositories lists only the repositories the token reaches, in GitHub's shape", async () => {
    const jwt = signAppJwt(creds.privateKeyPem, { iss: creds.appId });
    const api7 = fake.repositories.get("acme/api");
    const limited = await mint(jwt, { repository_ids: [api7?.id], permissions: { checks: "write", statuses: "write" } });
    const one = await api("GET", "/installation/repositories", undefined, `token ${String(limited.json.token)}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.total_count, 1);
    assert.equal((one.json.repositories as unknown[]).length, 1, "only the token's repository");
    assert.equal(one.json.repository_selection, "selected");
    const [repo] = one.json.repositories as Array<Record<string, unknown>>;
    assert.deepEqual(
      { id: repo?.id, name: repo?.name, full_name: repo?.full_name, owner: (repo?.owner as { login?: unknown } | undefined)?.login },
      { id: api7?.id, name: "api", full_name: "acme/api", owner: "acme" },
    );

    // A token of the whole installation: its repositories, never another installation's.
    const all = await api("GET", "/installation/repositories");
    assert.equal(all.json.total_count, 2);
    assert.equal(all.json.repository_selection, "all");
    assert.deepEqual((all.json.repositories as Array<{ full_name: string }>).map((r) => r.full_name), ["acme/api", "acme/web"]);
    const paged = await fetch(`${fake.url}/installation/repositories?per_page=1`, { headers: { authorization: `token ${token}` } });
    assert.equal(((await paged.json()) as { repositories: unknown[] }).repositories.length, 1);
    assert.match(paged.headers.get("link") ?? "", /[?&]page=2>; rel="next"/);

    assert.equal((await api("GET", "/installation/repositories", undefined, `Bearer ${jwt}`)).status, 401, "a JWT is not an installation token");
    fake.expireTokens(String(limited.json.token));
    assert.equal((await api("GET", "/installation/repositories", undefined, `token ${String(limited.json.token)}`)).status, 401);
  });

  test("an expired token gets 401", async () => {
    const res = await mint(signAppJwt(creds.privateKeyPem, { iss: creds.appId }));
    const t = String(res.json.token);
    fake.expireTokens(t);
    assert.equal((await api("POST", "/repos/acme/api/check-runs", { name: "x", head_sha: SHA }, `token ${t}`)).status, 401);
  });
});

describe("check runs", () => {
  const ok = { name: "buildkit-bot / api", head_sha: SHA };
  const annotation = { path: "Dockerfile", start_line: 3, end_line: 3, annotation_level: "failure", message: "boom" };
  const long = (n: number, ch = "a") => ch.repeat(n);
  const invalid: Array<[string, unknown, string]> = [
    ["name missing", { head_sha: SHA }, "name"],
    ["name empty", { ...ok, name: "  " }, "name"],
    ["head_sha missing", { name: "x" }, "head_sha"],
    ["unknown status", { ...ok, status: "running" }, "status"],
    ["unknown conclusion", { ...ok, conclusion: "ok" }, "conclusion"],
    ["completed without conclusion", { ...ok, status: "completed" }, "conclusion"],
    ["completed_at without conclusion", { ...ok, completed_at: new Date().toISOString() }, "conclusion"],
    ["details_url not a URL", { ...ok, details_url: "nope" }, "details_url"],
    ["output without title", { ...ok, output: { summary: "s" } }, "output.title"],
    ["output without summary", { ...ok, output: { title: "t" } }, "output.summary"],
    ["summary over 65535 characters", { ...ok, output: { title: "t", summary: long(65536) } }, "output.summary"],
    ["text over 65535 characters", { ...ok, output: { title: "t", summary: "s", text: long(65536, "é") } }, "output.text"],
    ["51 annotations", { ...ok, output: { title: "t", summary: "s", annotations: Array.from({ length: 51 }, () => annotation) } }, "output.annotations"],
    ["annotation without path", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, path: undefined }] } }, "output.annotations[0].path"],
    ["annotation without start_line", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, start_line: undefined }] } }, "output.annotations[0].start_line"],
    ["annotation without end_line", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, end_line: undefined }] } }, "output.annotations[0].end_line"],
    ["annotation with a bad level", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, annotation_level: "error" }] } }, "output.annotations[0].annotation_level"],
    ["annotation without message", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, message: undefined }] } }, "output.annotations[0].message"],
    ["annotation title over 255", { ...ok, output: { title: "t", summary: "s", annotations: [{ ...annotation, title: long(256) }] } }, "output.annotations[0].title"],
    ["4 actions", { ...ok, actions: Array.from({ length: 4 }, (_, i) => ({ label: "l", description: "d", identifier: `i${i}` })) }, "actions"],
    ["action label over 20", { ...ok, actions: [{ label: long(21), description: "d", identifier: "i" }] }, "actions[0].label"],
    ["action description over 40", { ...ok, actions: [{ label: "l", description: long(41), identifier: "i" }] }, "actions[0].description"],
    ["action identifier over 20", { ...ok, actions: [{ label: "l", description: "d", identifier: long(21) }] }, "actions[0].identifier"],
    ["action without identifier", { ...ok, actions: [{ label: "l", description: "d" }] }, "actions[0].identifier"],
  ];
  for (const [what, body, field] of invalid) {
    test(`${what} → 422 naming ${field}`, async () => {
      const res = await api("POST", "/repos/acme/api/check-runs", body);
      assert.equal(res.status, 422);
      assert.equal(res.json.message, "Validation Failed");
      const errors = res.json.errors as Array<{ field: string }>;
      assert.ok(errors.some((e) => e.field === field), JSON.stringify(errors));
    });
  }

  test("limits are counted in characters: 65535 multi-byte characters and 50 annotations pass", async () => {
    const res = await api("POST", "/repos/acme/api/check-runs", {
      ...ok,
      output: { title: "t", summary: long(65535, "😀"), text: long(65535, "é"), annotations: Array.from({ length: 50 }, () => annotation) },
      actions: [{ label: long(20), description: long(40), identifier: long(20) }],
    });
    assert.equal(res.status, 201);
    assert.equal((res.json.output as { annotations_count: number }).annotations_count, 50);
  });

  test("updates are validated too, and the state model follows create → update → get", async () => {
    const created = await api("POST", "/repos/acme/api/check-runs", { ...ok, status: "queued", external_id: "b1" });
    const id = Number(created.json.id);
    assert.equal((await api("PATCH", `/repos/acme/api/check-runs/${id}`, { status: "completed" })).status, 422);
    assert.equal((await api("PATCH", `/repos/acme/api/check-runs/${id}`, { output: { title: "t", summary: "s", annotations: Array.from({ length: 51 }, () => annotation) } })).status, 422);
    assert.equal((await api("PATCH", `/repos/acme/api/check-runs/${id}`, { status: "in_progress" })).status, 200);
    const done = await api("PATCH", `/repos/acme/api/check-runs/${id}`, { conclusion: "failure", output: { title: "t", summary: "s", annotations: [annotation] } });
    assert.equal(done.status, 200);
    assert.equal((await api("PATCH", `/repos/acme/api/check-runs/${id}`, { output: { title: "t", summary: "s", annotations: [annotation, annotation] } })).status, 200);
    const got = await api("GET", `/repos/acme/api/check-runs/${id}`);
    assert.equal(got.json.status, "completed");
    assert.equal(got.json.conclusion, "failure");
    assert.equal((got.json.output as { annotations_count: number }).annotations_count, 3);
    const state = fake.checkRun(id);
    assert.equal(state?.updates.length, 4, "only accepted bodies are applied");
    assert.equal(state?.external_id, "b1");
    assert.ok(state?.started_at && state.completed_at);
    assert.equal((await api("GET", `/repos/acme/web/check-runs/${id}`)).status, 404, "a run belongs to its repository");
  });
});

describe("commit statuses", () => {
  const ok = { state: "success", context: "buildkit-bot/api", description: "Built", target_url: "https://bot.example/logs/x" };
  const invalid: Array<[string, unknown, string]> = [
    ["unknown state", { ...ok, state: "cancelled" }, "state"],
    ["state missing", { ...ok, state: undefined }, "state"],
    ["description over 140", { ...ok, description: "d".repeat(141) }, "description"],
    ["context missing", { ...ok, context: undefined }, "context"],
    ["target_url not a URL", { ...ok, target_url: "javascript:alert(1)" }, "target_url"],
  ];
  for (const [what, body, field] of invalid) {
    test(`${what} → 422 naming ${field}`, async () => {
      const res = await api("POST", `/repos/acme/api/statuses/${SHA}`, body);
      assert.equal(res.status, 422);
      assert.ok((res.json.errors as Array<{ field: string }>).some((e) => e.field === field));
    });
  }

  test("accepted statuses are kept per context, latest last", async () => {
    assert.equal((await api("POST", `/repos/acme/api/statuses/${SHA}`, { ...ok, state: "pending", description: "d".repeat(140) })).status, 201);
    assert.equal((await api("POST", `/repos/acme/api/statuses/${SHA}`, ok)).status, 201);
    assert.deepEqual(fake.statusHistory("acme", "api", SHA, "buildkit-bot/api").map((s) => s.state), ["pending", "success"]);
    assert.equal(fake.latestStatus("acme", "api", SHA, "buildkit-bot/api")?.target_url, ok.target_url);
  });
});

describe("recording and counters", () => {
  test("every call is recorded with its parsed body and status; tokens are never recorded", async () => {
    const before = fake.calls.length;
    await api("POST", "/repos/acme/api/check-runs", { name: "rec", head_sha: SHA });
    const call = fake.calls[before];
    assert.equal(call?.method, "POST");
    assert.equal(call?.path, "/repos/acme/api/check-runs");
    assert.deepEqual(call?.body, { name: "rec", head_sha: SHA });
    assert.equal(call?.status, 201);
    assert.ok(!JSON.stringify(fake.calls).includes(token));
  });

  test("writes are counted per sliding minute and in total", async () => {
    const start = fake.writeStats();
    for (let i = 0; i < 5; i++) await api("POST", `/repos/acme/api/statuses/${SHA}`, { state: "pending", context: `count-${i}` });
    const end = fake.writeStats();
    assert.equal(end.total - start.total, 5);
    assert.ok(end.peakPerMinute >= 5);
    assert.ok(fake.writes.inWindow(Date.now()) >= 5);
  });

  test("secondary limits answer 403 with retry-after once the minute is full", async () => {
    const limited = await startFakeGitHub({ appId: creds.appId, publicKeyPem: creds.publicKeyPem, secondaryLimits: { perMinute: 2, perHour: 100 } });
    try {
      limited.addRepository({ installationId: 1, owner: "a", name: "b" });
      const t = (await fetch(`${limited.url}/app/installations/1/access_tokens`, { method: "POST", headers: { authorization: `Bearer ${signAppJwt(creds.privateKeyPem, { iss: creds.appId })}` } }).then((r) => r.json())) as { token: string };
      const post = () => fetch(`${limited.url}/repos/a/b/statuses/${SHA}`, { method: "POST", headers: { authorization: `token ${t.token}` }, body: JSON.stringify({ state: "success", context: "c" }) });
      assert.equal((await post()).status, 201);
      assert.equal((await post()).status, 201);
      const third = await post();
      assert.equal(third.status, 403);
      assert.equal(third.headers.get("retry-after"), "60");
      assert.match(((await third.json()) as { message: string }).message, /secondary rate limit/);
    } finally {
      await limited.close();
    }
  });

  test("the per-response delay applies", async () => {
    fake.delayMs = 150;
    try {
      const t0 = performance.now();
      await api("GET", "/repos/acme/api/check-runs/1");
      assert.ok(performance.now() - t0 >= 140, "the response waited for the configured delay");
    } finally {
      fake.delayMs = 0;
    }
  });
});

describe("webhook delivery", () => {
  test("deliver() signs the body and sends GitHub's headers", async () => {
    const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
    const app = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202).end("ok");
      });
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    try {
      fake.setWebhookUrl(`http://127.0.0.1:${(app.address() as AddressInfo).port}/api/github/webhooks`);
      const out = await fake.deliver("push", { ref: "refs/heads/main", after: SHA }, { deliveryId: "d-1" });
      assert.equal(out.status, 202);
      const got = received[0];
      assert.equal(got?.headers["x-github-event"], "push");
      assert.equal(got?.headers["x-github-delivery"], "d-1");
      const expected = `sha256=${createHmac("sha256", "hook-secret").update(got?.body ?? "").digest("hex")}`;
      assert.equal(got?.headers["x-hub-signature-256"], expected);
      assert.deepEqual(JSON.parse(got?.body ?? ""), { ref: "refs/heads/main", after: SHA });
      assert.deepEqual(fake.deliveries.at(-1), { event: "push", deliveryId: "d-1", status: 202 });
    } finally {
      await new Promise<void>((r) => app.close(() => r()));
    }
  });
});
