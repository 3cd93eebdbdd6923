import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, request } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { MalformedDeliveryError } from "../../src/intake/intake-errors.js";
import { createWebhookIntake } from "../../src/intake/webhook-intake.js";
import type { VerifiedEvent, WebhookIntakeOptions } from "../../src/intake/webhook-intake.js";
import { QueueUnavailableError } from "../../src/queue/queue-errors.js";
import { signPayload } from "../support/webhooks.js";
import { captureLog } from "./app-test-kit.js";

const SECRET = "outcomes-secret-5d1e";

/**
 * The intake on a real HTTP server, with a `receive` that stands in for the handlers: how each outcome of the
 * handlers, and each refusal before them, becomes a status and a body.
 */
describe("webhook intake outcomes", () => {
  let server: Server;
  let base: string;
  const log = captureLog();
  let received: VerifiedEvent[] = [];
  let failWith: unknown;
  const limits: WebhookIntakeOptions["limits"] = { maxBytes: 10_000, budgetBytes: 4_000, timeoutMs: 300, retryAfterSeconds: 7 };

  before(async () => {
    const intake = createWebhookIntake({
      path: "/hooks",
      secret: SECRET,
      log: log.logger,
      limits,
      receive: async (event) => {
        received.push(event);
        if (failWith !== undefined) throw failWith;
      },
    });
    server = createServer((req, res) => {
      void intake(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end("next handler");
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  beforeEach(() => {
    received = [];
    failWith = undefined;
  });

  async function post(body: string, headers: Record<string, string> = {}, path = "/hooks") {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": signPayload(SECRET, body),
        ...headers,
      },
      body,
    });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get("retry-after") };
  }

  it("hands a verified delivery to receive and answers 200 (trailing slash and signature case do not matter)", async () => {
    const body = JSON.stringify({ zen: "Design for failure.", hook_id: 3 });
    const res = await post(body, { "x-hub-signature-256": signPayload(SECRET, body).toUpperCase().replace("SHA256=", "sha256=") }, "/hooks/");
    assert.equal(res.status, 200, res.body);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.name, "ping");
    assert.deepEqual(received[0]!.payload, { zen: "Design for failure.", hook_id: 3 });
  });

  it("leaves other paths to the next handler", async () => {
    const res = await post("{}", {}, "/elsewhere");
    assert.equal(res.status, 404);
    assert.equal(res.body, "next handler");
  });

  it("answers a handler failure with a generic 500, the details only in the log", async () => {
    failWith = new AggregateError([new Error("[@octokit/auth-app] installationId option is required secret-detail-77")], "x");
    const res = await post("{}");
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body), { error: "internal error while handling the event" });
    assert.ok(log.text().includes("secret-detail-77"), "the log has the details");
  });

  it("answers a queue failure with 503 naming QueueUnavailableError", async () => {
    failWith = new AggregateError([new QueueUnavailableError(undefined, { cause: new Error("ECONNREFUSED 127.0.0.1:6379") })], "x");
    const res = await post("{}");
    assert.equal(res.status, 503);
    assert.match(res.body, /QueueUnavailableError/);
    assert.doesNotMatch(res.body, /ECONNREFUSED/);
  });

  it("answers a handler's MalformedDeliveryError with 400 and its message", async () => {
    failWith = new AggregateError([new MalformedDeliveryError("malformed ping payload: no zen")], "x");
    const res = await post("{}");
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { error: "malformed ping payload: no zen" });
  });

  it("refuses before reading the body: wrong content type, missing or malformed headers", async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{ "content-type": "application/x-www-form-urlencoded" }, 415],
      [{ "x-github-event": "" }, 400],
      [{ "x-github-event": "Push; rm -rf" }, 400],
      [{ "x-github-delivery": "" }, 400],
      [{ "x-hub-signature-256": "sha1=abc" }, 400],
      [{ "x-hub-signature-256": "sha256=xyz" }, 400],
      [{ "content-length": "12abc" }, 400],
    ];
    for (const [headers, status] of cases) {
      const res = await rawStatus(headers);
      assert.equal(res, status, JSON.stringify(headers));
    }
    assert.equal(received.length, 0, "receive never ran");
  });

  it("refuses a bad signature with 400 without calling receive", async () => {
    const res = await post('{"a":1}', { "x-hub-signature-256": signPayload("wrong", '{"a":1}') });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { error: "signature does not match" });
    assert.equal(received.length, 0);
  });

  it("answers 413 for a declared length over the limit and 503 + Retry-After when the budget is exhausted", async () => {
    assert.equal((await post("x".repeat(10_001))).status, 413);
    const overBudget = await post("x".repeat(5_000));
    assert.equal(overBudget.status, 503);
    assert.equal(overBudget.retryAfter, "7");
    assert.equal((await post(JSON.stringify({ pad: "y".repeat(3_000) }))).status, 200, "within the budget");
    assert.equal(received.length, 1);
  });

  it("answers 408 when the body stalls", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/hooks`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": signPayload(SECRET, "{}"),
          "content-length": "100",
        },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write("{");
    });
    assert.equal(status, 408);
    assert.equal(received.length, 0);
  });

  /** A request with `{}` as body and the given header overrides, sent with node:http (fetch would fix some). */
  function rawStatus(overrides: Record<string, string>): Promise<number> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-github-event": "ping",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": signPayload(SECRET, "{}"),
      ...overrides,
    };
    for (const [k, v] of Object.entries(headers)) if (v === "") delete headers[k];
    return new Promise<number>((resolve, reject) => {
      const req = request(`${base}/hooks`, { method: "POST", headers });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end("{}");
    });
  }
});
