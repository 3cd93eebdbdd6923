import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { BuildCancelledError, RegistryError } from "../../../src/buildkit/errors.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";

// An in-process HTTP server standing in for registry behaviours a real registry will not show on demand.
let server: http.Server;
let registry: string;
const seen: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith("/v2/stall/")) return; // never answers
    if (req.url?.startsWith("/v2/busy/")) {
      res.writeHead(503, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "try later" }] }));
      return;
    }
    if (req.url?.startsWith("/v2/limited/")) {
      res.writeHead(429, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

test("loopback registries are spoken to over plain HTTP by default", async () => {
  const client = new RegistryClient({ registry });
  assert.equal(await client.headManifest("plain/repo", "latest"), undefined);
  assert.ok(seen.includes("HEAD /v2/plain/repo/manifests/latest"));
});

test("5xx and 429 are transient RegistryErrors carrying the registry's code and message", async () => {
  const client = new RegistryClient({ registry });
  const busy = await rejection(client.getManifest("busy/repo", "latest"));
  assert.ok(busy instanceof RegistryError);
  assert.equal(busy.status, 503);
  assert.equal(busy.transient, true);
  assert.equal(busy.registryCode, "UNAVAILABLE");
  assert.equal(busy.registryMessage, "try later");
  const limited = await rejection(client.putManifest("limited/repo", "t", { mediaType: "application/json", body: Buffer.from("{}") }));
  assert.ok(limited instanceof RegistryError);
  assert.equal(limited.status, 429);
  assert.equal(limited.transient, true);
});

test("a registry that does not answer in time is a transient RegistryError", async () => {
  const client = new RegistryClient({ registry, timeoutMs: 200 });
  const err = await rejection(client.getManifest("stall/repo", "latest"));
  assert.ok(err instanceof RegistryError, String(err));
  assert.equal(err.status, undefined);
  assert.equal(err.transient, true);
  assert.match(err.message, /no answer within 200 ms/);
});

test("the client's signal cancels a request in flight", async () => {
  const controller = new AbortController();
  const client = new RegistryClient({ registry, signal: controller.signal });
  const pending = rejection(client.getManifest("stall/repo", "cancel-me"));
  while (!seen.includes("GET /v2/stall/repo/manifests/cancel-me")) await new Promise((r) => setImmediate(r));
  controller.abort();
  assert.ok((await pending) instanceof BuildCancelledError);
});

test("a custom fetch is used for every request", async () => {
  const urls: string[] = [];
  const client = new RegistryClient({
    registry: "registry.example",
    fetch: async (input) => {
      urls.push(String(input));
      return new Response(null, { status: 404 });
    },
  });
  assert.equal(await client.headManifest("o/a", "v1"), undefined);
  assert.deepEqual(urls, ["https://registry.example/v2/o/a/manifests/v1"]);
});
