import assert from "node:assert/strict";
import { after, test } from "node:test";
import { EngineApi } from "../../../src/buildkit/engine/engine-api.js";
import { askEngineFacts } from "../../../src/buildkit/daemon/engine-facts.js";
import { answerJson, startFakeEngine } from "../../support/fake-engine.js";
import type { FakeEngine } from "../../support/fake-engine.js";
import { testStack } from "../../support/stack/env.js";

const stack = testStack();
const engines: FakeEngine[] = [];
after(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

async function fakeEngine(answer: Parameters<typeof startFakeEngine>[0]): Promise<FakeEngine> {
  const engine = await startFakeEngine(answer);
  engines.push(engine);
  return engine;
}

test("the real Engine: its release from /_ping alone, the same as /version says, no containerd store on 20.10", async () => {
  const engine = new EngineApi(stack.dockerSocket);
  const facts = await askEngineFacts(engine);
  assert.equal(facts.version, (await engine.version()).Version);
  assert.equal(facts.containerdImageStore, false);
});

test("an Engine 20.10 is asked /_ping only", async () => {
  const fake = await fakeEngine((_path, res) => answerJson(res, "OK", { Server: "Docker/20.10.24 (linux)", "Api-Version": "1.41" }));
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "20.10.24", containerdImageStore: false });
  assert.deepEqual(fake.paths, ["/_ping"]);
});

test("an Engine 24+ is asked /info for its image store", async () => {
  const fake = await fakeEngine((path, res) => {
    if (path === "/_ping") return answerJson(res, "OK", { Server: "Docker/27.3.1 (linux)" });
    if (path === "/info") return answerJson(res, { DriverStatus: [["driver-type", "io.containerd.snapshotter.v1"]] });
    res.writeHead(404).end();
  });
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "27.3.1", containerdImageStore: true });
  assert.deepEqual(fake.paths, ["/_ping", "/info"]);
});

test("without a Server header the release comes from /version", async () => {
  const fake = await fakeEngine((path, res) => {
    if (path === "/_ping") return answerJson(res, "OK");
    if (path === "/version") return answerJson(res, { Version: "20.10.9", ApiVersion: "1.41" });
    res.writeHead(404).end();
  });
  assert.deepEqual(await askEngineFacts(new EngineApi(fake.socket)), { version: "20.10.9", containerdImageStore: false });
  assert.deepEqual(fake.paths, ["/_ping", "/version"]);
});
