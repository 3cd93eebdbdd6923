import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { BuildKitClient } from "../../src/buildkit/client.js";
import type { DaemonHealth } from "../../src/buildkit/client-health.js";
import { ConnectionError, InvalidRequestError } from "../../src/buildkit/errors.js";
import { answerJson, startFakeEngine } from "../support/fake-engine.js";
import { startTlsForwarder, startUnixForwarder } from "../support/grpc-proxy.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import type { TlsFixture } from "../support/tls.js";
import { createTlsFixture } from "../support/tls.js";

const stack = testStack();

function assertEngineHealth(health: DaemonHealth): void {
  assert.equal(health.daemon, "docker-engine");
  assert.equal(health.infoSupported, false, "Engine 20.10 has no Control.Info");
  assert.equal(health.workers.length, 1);
  assert.equal(health.workers[0]?.id, "moby");
  assert.ok(health.workers[0]?.platforms.includes("linux/amd64"), `platforms: ${health.workers[0]?.platforms.join(", ")}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function connectError(address: string, options?: Parameters<typeof BuildKitClient.connect>[1]): Promise<ConnectionError> {
  const err = await BuildKitClient.connect(address, { connectTimeoutMs: 3000, ...options }).then(
    async (client) => {
      await client.close();
      assert.fail(`connect to ${address} succeeded`);
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConnectionError, `expected ConnectionError, got ${String(err)}`);
  return err;
}

for (const daemon of testDaemons()) {
  describe(`BuildKitClient.health on ${daemon.name}`, { skip: daemon.skip }, () => {
    const over = daemon.kind === "docker-engine" ? "over docker-engine:// reports the Engine, its worker and version" : "over tcp:// reports buildkitd from Control.Info, its workers and version";
    test(over, { timeout: 30_000 }, async () => {
      const client = await BuildKitClient.connect(daemon.address);
      try {
        const health = await client.health();
        assert.equal(health.address, daemon.address);
        if (daemon.kind === "docker-engine") {
          assertEngineHealth(health);
          assert.equal(client.profile.kind, "engine-classic", "Engine 20.10 asked through its socket: the classic image store");
          assert.equal(health.address, `docker-engine://${stack.dockerSocket}`);
          assert.match(health.version?.engine ?? "", /^20\.10\./);
        } else {
          assert.equal(health.daemon, "buildkitd");
          assert.equal(client.profile.kind, "buildkitd");
          assert.equal(health.infoSupported, true);
          assert.match(health.version?.buildkit ?? "", /^v?\d+\.\d+\.\d+/);
          assert.equal(health.version?.engine, undefined);
          assert.ok(health.workers.length >= 1 && health.workers.every((w) => w.id !== "moby" && w.platforms.includes("linux/amd64")), JSON.stringify(health.workers));
        }
      } finally {
        await client.close();
      }
    });
  });
}

// The transports themselves, exercised against the Engine's /grpc behind local forwarders (the daemon does not matter).
describe("BuildKitClient.health through forwarders", () => {
  test("over unix:// through a socket forwarding to the Engine's /grpc", { timeout: 30_000 }, async () => {
    const forwarder = await startUnixForwarder(stack.dockerSocket);
    try {
      const client = await BuildKitClient.connect(forwarder.address);
      try {
        const health = await client.health();
        assertEngineHealth(health);
        assert.equal(client.profile.kind, "engine-classic", "known by its `moby` worker, without the Engine's API to ask");
        assert.equal(health.address, forwarder.address);
        assert.ok(forwarder.accepted >= 1);
      } finally {
        await client.close();
      }
    } finally {
      await forwarder.close();
    }
  });

  describe("over tcp:// with mutual TLS", () => {
    let fixture: TlsFixture;
    let forwarderAddress: string;
    let closeForwarder: () => Promise<void>;
    let client: { cert: Buffer; key: Buffer; certFile: string; keyFile: string };
    let ca: { cert: Buffer; certFile: string };
    let strangerClient: { cert: Buffer; key: Buffer };

    before(async () => {
      fixture = await createTlsFixture();
      const serverCa = await fixture.createCa("test-ca");
      const server = await fixture.issueServer(serverCa, "buildkitd");
      client = await fixture.issueClient(serverCa, "client");
      ca = serverCa;
      const otherCa = await fixture.createCa("other-ca");
      strangerClient = await fixture.issueClient(otherCa, "stranger");
      const forwarder = await startTlsForwarder(stack.dockerSocket, { ca: serverCa.cert, cert: server.cert, key: server.key });
      forwarderAddress = forwarder.address;
      closeForwarder = () => forwarder.close();
    });
    after(async () => {
      await closeForwarder?.();
      await fixture?.cleanup();
    });

    test("with certificates given as files through options", { timeout: 30_000 }, async () => {
      const bk = await BuildKitClient.connect(forwarderAddress, {
        tls: { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile },
        env: {},
      });
      try {
        assertEngineHealth(await bk.health());
      } finally {
        await bk.close();
      }
    });

    test("with certificates from BUILDKIT_TLS_* variables and a server name", { timeout: 30_000 }, async () => {
      const bk = await BuildKitClient.connect(undefined, {
        env: {
          BUILDKIT_HOST: forwarderAddress,
          BUILDKIT_TLS_CA_CERT: ca.certFile,
          BUILDKIT_TLS_CERT: client.certFile,
          BUILDKIT_TLS_KEY: client.keyFile,
          BUILDKIT_TLS_SERVER_NAME: "localhost",
        },
      });
      try {
        assertEngineHealth(await bk.health());
      } finally {
        await bk.close();
      }
    });

    test("a client certificate from another CA is refused with a ConnectionError", { timeout: 30_000 }, async () => {
      const err = await connectError(forwarderAddress, { tls: { ca: ca.cert, cert: strangerClient.cert, key: strangerClient.key }, env: {} });
      assert.equal(err.address, forwarderAddress);
      assert.ok(err.message.includes(forwarderAddress), err.message);
    });

    test("no client certificate at all is refused", { timeout: 30_000 }, async () => {
      const err = await connectError(forwarderAddress, { tls: { ca: ca.cert }, env: {} });
      assert.ok(err.message.includes(forwarderAddress), err.message);
    });

    test("plain-text gRPC to the TLS port is refused", { timeout: 30_000 }, async () => {
      const err = await connectError(forwarderAddress, { env: {} });
      assert.ok(err.message.includes(forwarderAddress), err.message);
    });
  });
});

describe("BuildKitClient.connect failures", () => {
  test("nothing listening on a tcp port", { timeout: 20_000 }, async () => {
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const err = await connectError(address);
    assert.equal(err.address, address);
    assert.ok(err.message.includes(address), err.message);
  });

  test("a unix socket that does not exist", { timeout: 20_000 }, async () => {
    const err = await connectError("unix:///nonexistent/buildkitd.sock");
    assert.ok(err.message.includes("unix:///nonexistent/buildkitd.sock"), err.message);
  });

  test("a Docker socket that does not exist", { timeout: 20_000 }, async () => {
    const err = await connectError("docker-engine:///nonexistent.sock");
    assert.ok(err.message.includes("docker-engine:///nonexistent.sock"), err.message);
    assert.match(err.message, /ENOENT/);
  });

  test("a socket that answers HTTP but refuses the /grpc upgrade carries the Engine's message", { timeout: 20_000 }, async () => {
    // An Engine whose /grpc route is gone (e.g. a future release).
    const engine = await startFakeEngine((_path, res) => answerJson(res, { message: "page not found" }, {}, 404));
    try {
      const err = await connectError(`docker-engine://${engine.socket}`);
      assert.match(err.message, /404/);
      assert.match(err.message, /page not found/);
    } finally {
      await engine.close();
    }
  });

  test("an Engine that answers /_ping but refuses the /grpc upgrade: connect fails with its message, not later", { timeout: 20_000 }, async () => {
    const engine = await startFakeEngine((path, res) => {
      if (path === "/_ping") answerJson(res, "OK", { Server: "Docker/20.10.24 (linux)", "Api-Version": "1.41" });
      else answerJson(res, { message: "no upgrade proto in request" }, {}, 500);
    });
    try {
      const started = Date.now();
      const err = await connectError(`docker-engine://${engine.socket}`, { connectTimeoutMs: 15_000 });
      assert.ok(Date.now() - started < 10_000, "at the first failure, not at the connect timeout");
      assert.ok(err.message.includes(`docker-engine://${engine.socket}`), err.message);
      assert.match(err.message, /500/);
      assert.match(err.message, /no upgrade proto in request/);
    } finally {
      await engine.close();
    }
  });

  test("no address at all asks for BUILDKIT_HOST", async () => {
    await assert.rejects(BuildKitClient.connect(undefined, { env: {} }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.match(err.message, /BUILDKIT_HOST/);
      return true;
    });
  });
});
