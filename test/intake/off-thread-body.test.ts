import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, request } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createEventDispatcher } from "../../src/handlers/register-handlers.js";
import type { EventJob } from "../../src/queue/job-types.js";
import { createWebhookIntake } from "../../src/intake/webhook-intake.js";
import type { IntakeHandler, VerifiedEvent } from "../../src/intake/webhook-intake.js";
import { captureLog } from "../app/app-test-kit.js";
import { adaptPayload, examplePayload, signPayload } from "../support/webhooks.js";

const SECRET = "off-thread-secret-0b7e";
const OFF_THREAD_BYTES = 2_000;

interface Side {
  intake: IntakeHandler;
  server: Server;
  url: string;
  received: VerifiedEvent[];
  jobs: EventJob[];
}

/**
 * Two intakes on real HTTP servers in front of the real handlers (a store that records the jobs stands in for
 * Redis): one parses every body on the main thread, the other sends bodies over OFF_THREAD_BYTES to its worker
 * threads. The same deliveries must give the same answers and the same jobs.
 */
describe("webhook intake: large bodies parsed in worker threads", () => {
  const log = captureLog();
  let main: Side;
  let threaded: Side;

  async function side(offThreadBytes: number): Promise<Side> {
    const received: VerifiedEvent[] = [];
    const jobs: EventJob[] = [];
    const dispatch = createEventDispatcher(
      { appId: 1, gitBaseUrl: "http://git.test", store: { store: async (job) => (jobs.push(job), { jobId: job.deliveryId }) } },
      { warn: () => {}, debug: () => {} },
    );
    const intake = createWebhookIntake({
      path: "/hooks",
      secret: SECRET,
      log: log.logger,
      limits: { offThreadBytes, maxBytes: 4_000_000, budgetBytes: 8_000_000 },
      receive: async (event) => {
        received.push(event);
        await dispatch(event);
      },
    });
    const server = createServer((req, res) => void intake(req, res));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    return { intake, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, jobs };
  }

  before(async () => {
    main = await side(Number.MAX_SAFE_INTEGER);
    threaded = await side(OFF_THREAD_BYTES);
  });

  after(async () => {
    for (const s of [main, threaded]) {
      await s.intake.close();
      s.server.closeAllConnections();
      await new Promise((done) => s.server.close(done));
    }
  });

  /** POSTs `body` in `chunks` pieces; without Content-Length (chunked) when `chunked`. */
  function post(url: string, name: string, body: string, opts: { chunked?: boolean; signature?: string } = {}): Promise<{ status: number; body: string }> {
    const bytes = Buffer.from(body);
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": name,
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": opts.signature ?? signPayload(SECRET, body),
          ...(opts.chunked ? {} : { "content-length": String(bytes.length) }),
        },
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      // Several writes, so the body arrives in several chunks.
      const piece = Math.ceil(bytes.length / 7);
      for (let i = 0; i < bytes.length; i += piece) req.write(bytes.subarray(i, i + piece));
      req.end();
    });
  }

  async function both(name: string, body: string, opts: { chunked?: boolean; signature?: string } = {}) {
    const a = await post(main.url, name, body, opts);
    const b = await post(threaded.url, name, body, opts);
    assert.deepEqual(b, a, `${name}: the threaded intake answers as the main-thread one`);
    return b;
  }

  function bigPush(commits: number): Record<string, unknown> {
    const payload = adaptPayload(examplePayload("push"));
    payload.created = false;
    payload.forced = false;
    payload.commits = Array.from({ length: commits }, (_, i) => ({ id: String(i), message: "x".repeat(400), added: [`docs/${i}.md`], modified: [], removed: [] }));
    return payload;
  }

  const withoutTimes = (jobs: EventJob[]) => jobs.map(({ receivedAt: _, deliveryId: __, ...rest }) => rest);

  it("a large push, sent with and without Content-Length, makes the same job as on the main thread", async () => {
    for (const chunked of [false, true]) {
      for (const commits of [12, 5_000]) {
        const before = threaded.jobs.length;
        const body = JSON.stringify(bigPush(commits));
        assert.ok(body.length > OFF_THREAD_BYTES);
        const res = await both("push", body, { chunked });
        assert.equal(res.status, 200, res.body);
        assert.equal(threaded.jobs.length, before + 1);
      }
    }
    assert.deepEqual(withoutTimes(threaded.jobs), withoutTimes(main.jobs));
    assert.deepEqual(threaded.jobs[0]!.changedFiles, Array.from({ length: 12 }, (_, i) => `docs/${i}.md`).sort());
    assert.equal(threaded.jobs[1]!.changedFiles, undefined, "5,000 commits: the list is incomplete, so no path filter");
  });

  it("hands the handlers only what they read: the threaded side's payload has no commit messages", () => {
    const last = threaded.received.at(-1)!;
    assert.equal(last.name, "push");
    assert.doesNotMatch(JSON.stringify(last.payload), /xxxxxxxx/);
    assert.match(JSON.stringify(main.received.at(-1)!.payload), /xxxxxxxx/);
  });

  it("refuses large bodies the same way: bad signature, not JSON, not an object, wrong shape", async () => {
    const pad = "p".repeat(OFF_THREAD_BYTES * 2);
    const valid = JSON.stringify(bigPush(30));
    const received = threaded.received.length;
    const cases: Array<[string, string, { signature?: string }, number, string]> = [
      ["push", valid, { signature: signPayload("wrong", valid) }, 400, "signature does not match"],
      ["push", `{"pad":"${pad}"`, {}, 400, "body is not UTF-8 JSON"],
      ["push", `["${pad}"]`, {}, 400, "payload is not a JSON object"],
      ["push", JSON.stringify({ pad, installation: { id: 5 }, repository: {} }), {}, 400, "push payload has no ref"],
      ["pull_request", JSON.stringify({ pad, action: "opened", installation: { id: 5 }, repository: {}, pull_request: {} }), {}, 400, ""],
    ];
    for (const [name, body, opts, status, message] of cases) {
      const res = await both(name, body, opts);
      assert.equal(res.status, status, res.body);
      if (message) assert.deepEqual(JSON.parse(res.body), { error: message });
    }
    assert.equal(threaded.received.length, received + 1, "only the signed, well-formed, wrong-shape pull_request reached the handlers");
  });

  it("keeps small bodies on the main thread: a small push's payload arrives whole", async () => {
    const small = {
      ref: "refs/heads/main",
      after: "a".repeat(40),
      compare: "https://github.com/acme/widgets/compare/x",
      installation: { id: 4242 },
      repository: { id: 777001, name: "widgets", owner: { login: "acme" }, html_url: "https://github.com/acme/widgets" },
    };
    assert.ok(JSON.stringify(small).length <= OFF_THREAD_BYTES);
    const res = await post(threaded.url, "push", JSON.stringify(small));
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(threaded.received.at(-1)!.payload, small);
  });
});
