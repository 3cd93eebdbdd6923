import { strict as assert } from "node:assert";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { pacedLoad } from "../../bench/support/paced-load.js";

/** A server that holds every answer until told, counting what arrived meanwhile. */
async function holdingServer() {
  const held: { req: IncomingMessage; res: ServerResponse; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => held.push({ req, res, body }));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    answerAll(status: (i: number) => number) {
      for (const [i, h] of held.splice(0).entries()) h.res.writeHead(status(i)).end("ok");
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

test("the paced load sends every request on schedule without waiting for answers (an open model)", async () => {
  const server = await holdingServer();
  try {
    const rate = 100;
    const seconds = 0.5;
    // No answer comes until all 50 requests arrived: a closed-loop generator on 8 connections would stop at 8.
    const waitForAll = (async () => {
      while (server.held.length < rate * seconds) await new Promise((r) => setTimeout(r, 5));
      server.answerAll((i) => (i === 0 ? 500 : 202));
    })();
    const result = await pacedLoad({
      url: server.url,
      rate,
      requests: Array.from({ length: rate * seconds }, (_, i) => ({ path: "/hook", headers: { "content-type": "application/json", "x-n": String(i) }, body: Buffer.from(`{"n":${i}}`) })),
      connections: 64,
      timeoutMs: 10_000,
    });
    await waitForAll;
    assert.equal(result.sent, 50);
    assert.equal(result.latencies.length, 50);
    assert.equal(result.ok, 49);
    assert.equal(result.errors, 1, "a non-2xx answer is an error");
    // Latency runs from each request's scheduled time: the first one waited for the last one's send to be answered.
    const sorted = [...result.latencies].sort((a, b) => a - b);
    assert.ok((sorted.at(-1) as number) >= (seconds - 1 / rate) * 1000 - 1, `the first request's latency covers the whole schedule: ${sorted.join(", ")}`);
  } finally {
    await server.close();
  }
});

test("the paced load counts a request that fails (server gone) as an error and still ends", async () => {
  const server = await holdingServer();
  const url = server.url;
  await server.close();
  const requests = Array.from({ length: 10 }, () => ({ path: "/", headers: {}, body: Buffer.from("x") }));
  const result = await pacedLoad({ url, rate: 50, requests, connections: 4, timeoutMs: 2_000 });
  assert.equal(result.sent, 10);
  assert.equal(result.errors, 10);
  assert.equal(result.ok, 0);
  assert.equal(result.latencies.length, 0);
});
