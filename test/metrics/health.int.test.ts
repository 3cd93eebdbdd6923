import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createProducerConnection, whenReady } from "../../src/queue/index.js";
import { createOperatorRoutes, readiness, redisCheck, startOperatorServer } from "../../src/metrics/index.js";
import type { OperatorServer, ReadinessCheck } from "../../src/metrics/index.js";
import { testStack } from "../support/stack/env.js";

/**
 * Readiness is bounded in time and says why it fails; the worker's operator listener serves the three routes and
 * nothing else. Against the stack's Redis and a Redis address nothing listens on.
 */
describe("readiness and the operator listener", () => {
  const up = createProducerConnection(testStack().redisUrl);
  // Port 1 on loopback: nothing listens, every connect is refused.
  const down = createProducerConnection("redis://127.0.0.1:1");
  let server: OperatorServer;
  const never: ReadinessCheck = { name: "stuck", check: () => new Promise(() => {}) };

  before(async () => {
    await whenReady(up);
  });

  after(async () => {
    await server?.close();
    up.disconnect();
    down.disconnect();
  });

  it("Redis answering is ready; a Redis that is not connected fails at once, saying so", async () => {
    assert.deepEqual(await readiness([redisCheck(up)]), { ready: true, checks: { redis: { ok: true } } });
    const report = await readiness([redisCheck(down)]);
    assert.equal(report.ready, false);
    assert.match(report.checks.redis?.reason ?? "", /^not connected \((connecting|reconnecting|connect|close|end|wait)\)$/);
  });

  it("a check that never answers fails after the bound, and the others are still reported", async () => {
    const report = await readiness([redisCheck(up), never], 200);
    assert.deepEqual(report, { ready: false, checks: { redis: { ok: true }, stuck: { ok: false, reason: "no answer within 200 ms" } } });
  });

  it("the worker's listener serves /metrics, /healthz and /readyz (GET only), 404 elsewhere, and 503 once stopping", async () => {
    const route = createOperatorRoutes({ checks: [redisCheck(up)] });
    server = await startOperatorServer({ route, port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.match(await metrics.text(), /^# HELP process_cpu_user_seconds_total/m);
    assert.deepEqual([(await fetch(`${url}/healthz`)).status, await (await fetch(`${url}/readyz`)).json()], [200, { status: "ready", checks: { redis: { ok: true } } }]);
    assert.equal((await fetch(`${url}/readyz`, { method: "POST" })).status, 405);
    assert.equal((await fetch(`${url}/api/github/webhooks`, { method: "POST" })).status, 404);
    route.stopping();
    assert.deepEqual([(await fetch(`${url}/healthz`)).status, (await fetch(`${url}/readyz`)).status, (await fetch(`${url}/metrics`)).status], [503, 503, 200]);
  });
});
