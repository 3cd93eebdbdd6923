import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { EngineApi } from "../../../src/buildkit/engine/engine-api.js";
import { askEngineFacts } from "../../../src/buildkit/engine/engine-facts.js";
import { testStack } from "../../support/stack/env.js";

const stack = testStack();
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** An HTTP server on a unix socket standing in for an Engine; records the paths asked. */
async function fakeEngine(answer: (path: string, res: http.ServerResponse) => void): Promise<{ socket: string; paths: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-fake-engine-"));
  const socket = join(dir, "docker.sock");
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").replace(/^\/v1\.\d+/, "");
    paths.push(path);
    answer(path, res);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  return { socket, paths };
}

const json = (res: http.ServerResponse, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(200, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

test("the real Engine: its release from /_ping alone, the same as /version says, no containerd store on 20.10", async () => {
  const engine = new EngineApi(stack.dockerSocket);
  const facts = await askEngineFacts(engine);
  assert.equal(facts.version, (await engine.version()).Version);
  assert.equal(facts.containerdImageStore, false);
});

test("an Engine 20.10 is asked /_ping only", async () => {
  const fake = await fakeEngine((_path, res) => json(res, "OK", { Server: "Docker/20.10.24 (linux)", "Api-Version": "1.41" }));
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "20.10.24", containerdImageStore: false });
  assert.deepEqual(fake.paths, ["/_ping"]);
});

test("an Engine 24+ is asked /info for its image store", async () => {
  const fake = await fakeEngine((path, res) => {
    if (path === "/_ping") return json(res, "OK", { Server: "Docker/27.3.1 (linux)" });
    if (path === "/info") return json(res, { DriverStatus: [["driver-type", "io.containerd.snapshotter.v1"]] });
    res.writeHead(404).end();
  });
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "27.3.1", containerdImageStore: true });
  assert.deepEqual(fake.paths, ["/_ping", "/info"]);
});

test("without a Server header the release comes from /version", async () => {
  const fake = await fakeEngine((path, res) => {
    if (path === "/_ping") return json(res, "OK");
    if (path === "/version") return json(res, { Version: "20.10.9", ApiVersion: "1.41" });
    res.writeHead(404).end();
  });
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "20.10.9", containerdImageStore: false });
  assert.deepEqual(fake.paths, ["/_ping", "/version"]);
});
