import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { EngineApi } from "../../../src/buildkit/engine/engine-api.js";
import type { PushProgressLine } from "../../../src/buildkit/engine/engine-api.js";
import { BuildCancelledError, ConnectionError, EngineApiError, PushRefusedError } from "../../../src/buildkit/errors.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";
import { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { testStack } from "../../support/stack/env.js";
import { startRegistry } from "../../support/stack/registry.js";
import type { RegistryInstance } from "../../support/stack/registry.js";
import { buildTestImage } from "./build-test-image.js";

const stack = testStack();
const engine = new EngineApi(stack.dockerSocket);
const id = randomBytes(4).toString("hex");
/** A local image made for this file; every name it gets is removed in `after`. */
const source = `bkb-test/engine-api-source:${id}`;
const localNames = new Set<string>([source]);

async function removeQuietly(ref: string): Promise<void> {
  await engine.removeImage(ref).catch((err: unknown) => {
    if (!(err instanceof EngineApiError && err.status === 404)) throw err;
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

before(async () => {
  await buildTestImage(stack.dockerSocket, [source], `engine-api ${id}\n`);
});

after(async () => {
  for (const name of localNames) await removeQuietly(name);
});

describe("EngineApi basics against the dev Engine", () => {
  test("ping, version and info answer; ping names the same Engine release and API version as /version", async () => {
    const ping = await engine.ping();
    const version = await engine.version();
    assert.equal(ping.engineVersion, version.Version);
    assert.equal(ping.apiVersion, version.ApiVersion);
    assert.match(version.Version, /^\d+\.\d+/);
    assert.match(version.ApiVersion, /^1\.\d+$/);
    const info = await engine.info();
    assert.equal(typeof info.ID, "string");
    assert.ok(Array.isArray(info.DriverStatus));
  });

  test("usesContainerdSnapshotter matches the DriverStatus the Engine reports", async () => {
    const info = await engine.info();
    const expected = JSON.stringify(info.DriverStatus).includes('["driver-type","io.containerd.snapshotter.v1"]');
    assert.equal(await engine.usesContainerdSnapshotter(), expected);
  });

  test("tag, imageExists and remove a local name", async () => {
    const repository = `bkb-test/engine-api-tagged`;
    const ref = `${repository}:${id}`;
    localNames.add(ref);
    assert.equal(await engine.imageExists(ref), false);
    await engine.tagImage(source, repository, id);
    assert.equal(await engine.imageExists(ref), true);
    await engine.removeImage(ref);
    assert.equal(await engine.imageExists(ref), false);
    assert.equal(await engine.imageExists(source), true, "removing one name keeps the image under its other names");
  });

  test("removing or tagging a name that does not exist is an EngineApiError 404", async () => {
    const missing = `bkb-test/engine-api-missing:${id}`;
    const removed = await rejection(engine.removeImage(missing));
    assert.ok(removed instanceof EngineApiError);
    assert.equal(removed.status, 404);
    const tagged = await rejection(engine.tagImage(missing, "bkb-test/x", "y"));
    assert.ok(tagged instanceof EngineApiError);
    assert.equal(tagged.status, 404);
  });

  test("a socket nobody listens on is a ConnectionError", async () => {
    const err = await rejection(new EngineApi("/nonexistent/docker.sock").ping());
    assert.ok(err instanceof ConnectionError);
    assert.match(err.message, /\/nonexistent\/docker\.sock/);
  });
});

describe("EngineApi.pushImage", () => {
  test("pushes to the stack registry; the digest is the registry's Docker-Content-Digest", async () => {
    const repository = `${stack.registry}/bkb-test/engine-push-${id}`;
    localNames.add(`${repository}:v1`);
    await engine.tagImage(source, repository, "v1");
    const lines: PushProgressLine[] = [];
    const pushed = await engine.pushImage(repository, "v1", { onProgress: (line) => lines.push(line) });
    assert.match(pushed.digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(typeof pushed.size, "number");

    const res = await fetch(`http://${stack.registry}/v2/bkb-test/engine-push-${id}/manifests/v1`, {
      method: "HEAD",
      headers: { Accept: `${MediaType.DockerManifest}, ${MediaType.OciManifest}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), pushed.digest);
    assert.ok(lines.some((l) => l.aux?.Digest === pushed.digest || l.status?.includes(pushed.digest)));
  });

  test("to a closed port: a transient PushRefusedError naming the registry and the refusal", async () => {
    const repository = `127.0.0.1:1/bkb-test/engine-push-${id}`;
    localNames.add(`${repository}:v1`);
    await engine.tagImage(source, repository, "v1");
    const err = await rejection(engine.pushImage(repository, "v1"));
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.equal(err.registry, "127.0.0.1:1");
    assert.equal(err.transient, true);
    assert.match(err.message, /connection refused/);
    assert.match(err.message, /127\.0\.0\.1:1\/bkb-test\/engine-push-/);
  });

  test("a local name that does not exist is refused inside the 200 stream, not transient", async () => {
    const err = await rejection(engine.pushImage(`${stack.registry}/bkb-test/never-tagged-${id}`, "v1"));
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.equal(err.transient, false);
    assert.match(err.message, /does not exist locally/);
  });

  test("aborting while the Engine is pushing cancels the push with a BuildCancelledError", async () => {
    // A registry that answers the version check and then never answers again: the push can only end by the abort.
    const stalled = http.createServer((req, res) => {
      if (req.url === "/v2/") {
        res.writeHead(200, { "Docker-Distribution-Api-Version": "registry/2.0" });
        res.end("{}");
      }
    });
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const addr = `127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    const repository = `${addr}/bkb-test/engine-push-abort-${id}`;
    localNames.add(`${repository}:v1`);
    try {
      await engine.tagImage(source, repository, "v1");
      const controller = new AbortController();
      const err = await rejection(
        engine.pushImage(repository, "v1", {
          signal: controller.signal,
          onProgress: (line) => {
            if (line.status === "Preparing" || line.status === "Waiting" || line.status === "Pushing") controller.abort();
          },
        }),
      );
      assert.ok(err instanceof BuildCancelledError, String(err));
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  });

  test("an already aborted signal cancels before anything is sent", async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await rejection(engine.pushImage(`${stack.registry}/bkb-test/x`, "y", { signal: controller.signal }));
    assert.ok(err instanceof BuildCancelledError);
  });
});

describe("EngineApi.pushImage to a basic-auth registry", () => {
  const username = "bkb-pusher";
  const password = `pw-${randomBytes(12).toString("hex")}`;
  let dir: string;
  let reg: RegistryInstance;
  let repository: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bkb-engine-auth-registry-"));
    reg = await startRegistry({ dir, htpasswd: { username, password } });
    repository = `${reg.addr}/bkb-test/engine-auth-${id}`;
    localNames.add(`${repository}:v1`);
    await engine.tagImage(source, repository, "v1");
  });
  after(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("without credentials: the error found inside the 200 stream becomes a PushRefusedError", async () => {
    const err = await rejection(engine.pushImage(repository, "v1"));
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.equal(err.registry, reg.addr);
    assert.equal(err.transient, false);
    assert.match(err.message, /no basic auth credentials|unauthorized|authentication required/i);
  });

  test("with wrong credentials: refused, and the password appears nowhere in the error", async () => {
    const wrong = `${password}-wrong`;
    const err = await rejection(engine.pushImage(repository, "v1", { auth: { host: reg.addr, username, password: wrong } }));
    assert.ok(err instanceof PushRefusedError, String(err));
    assert.ok(!err.message.includes(wrong));
    assert.ok(!JSON.stringify(err).includes(wrong));
  });

  test("with credentials: pushed, and the registry serves the same digest", async () => {
    const pushed = await engine.pushImage(repository, "v1", { auth: { host: reg.addr, username, password } });
    const client = new RegistryClient({ registry: reg.addr, credentials: { username, password } });
    const head = await client.headManifest(`bkb-test/engine-auth-${id}`, "v1");
    assert.equal(head?.digest, pushed.digest);
  });
});
