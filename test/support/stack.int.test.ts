import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { BuildKitClient, BuildConfig } from "../../src/buildkit/index.js";
import type { ProgressEvent } from "../../src/buildkit/index.js";
import { DOCKER_CLI, dockerCliEnv } from "./stack/base-image.js";
import { bridgeExists } from "./stack/bridge.js";
import { engineRequest } from "./stack/engine-api.js";
import { testStack } from "./stack/env.js";
import { isRunning, processesMentioning } from "./stack/processes.js";
import { redisPing, startRedis } from "./stack/redis.js";
import { startRegistry } from "./stack/registry.js";
import { readStackRecord, startStack, stopStack } from "./stack/stack.js";
import type { RunningStack } from "./stack/stack.js";
import { mountsUnder } from "./stack/unmount.js";

const run = promisify(execFile);
const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

describe("a whole stack started from nothing, beside the suite's", { timeout: 600_000 }, () => {
  let root: string;
  let running: RunningStack;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "bkb-stack-it-"));
    // Its own buildkitd, even when the suite runs against an external one (BKB_TEST_BUILDKITD_ADDR).
    running = await startStack({ root, env: { ...process.env, BKB_TEST_BUILDKITD_ADDR: "" } });
  });

  after(async () => {
    await stopStack(root);
    await rm(root, { recursive: true, force: true });
  });

  it("writes an env file that testStack() reads back", async () => {
    const { stdout } = await run("bash", ["-c", 'source "$1" && env', "_", running.envFile]);
    const env = Object.fromEntries(stdout.split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    assert.deepEqual(testStack(env), running.stack);
    assert.equal(env.STACK_ROOT, root);
    assert.equal(running.stack.buildkitAddr, `docker-engine://${running.stack.dockerSocket}`);
  });

  it("the env file alone points the app and the CLI at the stack: BUILDKIT_HOST is the standalone buildkitd", async () => {
    const { stdout } = await run("bash", [
      "-c",
      'source "$1" && node --import tsx --input-type=module -e "$2" health --json && echo "$BUILDKIT_BOT_REDIS_URL $BUILDKIT_BOT_REGISTRY"',
      "_",
      running.envFile,
      // The CLI's entry as bin/buildkit-bot.js runs it, from source.
      'const { main } = await import("./src/cli/main.ts"); process.exitCode = await main(process.argv.slice(1));',
    ], { env: { PATH: process.env.PATH } });
    const [json, appVariables] = stdout.trim().split("\n");
    const health = JSON.parse(json ?? "") as { ok: boolean; daemon: string; address: string };
    assert.equal(health.ok, true);
    assert.equal(health.daemon, "buildkitd");
    assert.equal(health.address, running.stack.buildkitdAddr);
    assert.equal(appVariables, `${running.stack.redisUrl} ${running.stack.registry}`);
  });

  it("runs a standalone buildkitd v0.24.0 from the shipped config, on tcp and unix, with RUN steps on its own bridge", async () => {
    const record = await readStackRecord(root);
    assert.ok(record.buildkitd, "the stack recorded its buildkitd");
    assert.match(record.buildkitd.version, /^buildkitd github\.com\/moby\/buildkit v0\.24\.0 /);
    assert.match(running.stack.buildkitdAddr ?? "", /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const config = await readFile(join(record.buildkitd.dir, "buildkitd.toml"), "utf8");
    assert.match(config, /^# Generated from .*deploy\/buildkitd\.toml/);

    const overUnix = await BuildKitClient.connect(`unix://${join(record.buildkitd.dir, "buildkitd.sock")}`);
    try {
      const health = await overUnix.health();
      assert.equal(health.daemon, "buildkitd");
      assert.match(health.version?.buildkit ?? "", /^v0\.24\.0/);
    } finally {
      await overUnix.close();
    }

    // The step's own network: an address on the daemon's bridge subnet, not the host's.
    const client = await BuildKitClient.connect(running.stack.buildkitdAddr);
    const logs: string[] = [];
    try {
      const context = join(root, "bkd-context");
      await mkdir(context, { recursive: true });
      await writeFile(join(context, "Dockerfile"), `FROM ${running.stack.baseImage}\nRUN ip -4 -o addr show && echo "ran-$(echo ok)"\n`);
      await client.solve(BuildConfig.local(context).noCache().build(), {
        onProgress: (event: ProgressEvent) => {
          if (event.type === "log") logs.push(event.data);
        },
      });
    } finally {
      await client.close();
    }
    const output = logs.join("");
    assert.match(output, /ran-ok/);
    const bridge = (await run("ip", ["-4", "-o", "addr", "show", "dev", record.buildkitd.bridge])).stdout;
    const subnet = /inet (\d+\.\d+\.\d+)\.\d+\/24/.exec(bridge)?.[1];
    assert.ok(subnet, bridge);
    assert.match(output, new RegExp(`inet ${subnet.replaceAll(".", "\\.")}\\.\\d+/24`), output);
  });

  it("runs Redis with AOF and noeviction", async () => {
    const redis = new Redis(running.stack.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      assert.equal(await redis.ping(), "PONG");
      assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "yes"]);
      assert.deepEqual(await redis.config("GET", "maxmemory-policy"), ["maxmemory-policy", "noeviction"]);
    } finally {
      redis.disconnect();
    }
  });

  it("runs a Docker Engine that answers /_ping and /version", async () => {
    const ping = await engineRequest(running.stack.dockerSocket, "/_ping");
    assert.deepEqual(ping, { status: 200, body: "OK" });
    const version = await engineRequest(running.stack.dockerSocket, "/version");
    assert.equal(version.status, 200);
    const body = JSON.parse(version.body) as { Version: string; ApiVersion: string };
    assert.match(body.Version, /^\d+\.\d+\.\d+/);
    assert.match(body.ApiVersion, /^1\.\d+$/);
  });

  it("runs a registry that answers /v2/ and holds the base image's manifest", async () => {
    const v2 = await fetch(`http://${running.stack.registry}/v2/`);
    assert.equal(v2.status, 200);
    assert.equal(running.stack.baseImage, `${running.stack.registry}/busybox:latest`);
    const res = await fetch(`http://${running.stack.registry}/v2/busybox/manifests/latest`, { headers: { Accept: MANIFEST_TYPES } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("docker-content-digest") ?? "", /^sha256:[0-9a-f]{64}$/);
    const manifest = (await res.json()) as { schemaVersion: number; layers?: unknown[] };
    assert.equal(manifest.schemaVersion, 2);
    assert.ok((manifest.layers ?? []).length >= 1, "the base image has a layer");
  });

  it("builds a RUN step on that Engine from the base image", async () => {
    const context = join(root, "build-context");
    await mkdir(context, { recursive: true });
    await writeFile(join(context, "Dockerfile"), `FROM ${running.stack.baseImage}\nRUN echo "ran-$(echo ok)" && ls /bin/sh && wc -c /etc/passwd\n`);
    const { stdout, stderr } = await run(
      DOCKER_CLI,
      ["build", "--no-cache", "--progress=plain", context],
      { env: dockerCliEnv(running.stack.dockerSocket, join(root, "docker-cli")) },
    );
    // The literal "ran-ok" only appears in the step's output, never in the echoed command.
    assert.match(stdout + stderr, /ran-ok/);
  });

  it("stops: no recorded PID, process, mount or bridge of it remains", async () => {
    const record = await readStackRecord(root);
    const pids = [record.redis?.pid, record.engine?.pid, record.registry?.pid, record.buildkitd?.pid];
    assert.ok(pids.every((pid) => typeof pid === "number" && pid > 0), "every part recorded its PID");
    assert.ok(pids.every((pid) => isRunning(pid as number)), "every part is running before stop");
    assert.ok(record.engine && (await bridgeExists(record.engine.bridge)), "the engine's bridge exists before stop");
    assert.ok(record.buildkitd && (await bridgeExists(record.buildkitd.bridge)), "buildkitd's bridge exists before stop");

    await stopStack(root);

    for (const pid of pids) assert.equal(isRunning(pid as number), false, `pid ${pid} is gone`);
    assert.deepEqual(processesMentioning(root), []);
    assert.equal(await bridgeExists(record.engine.bridge), false);
    assert.equal(await bridgeExists(record.buildkitd.bridge), false);
    assert.deepEqual(await mountsUnder(root), []);
    // A second stop is harmless.
    await stopStack(root);
  });
});

describe("startRedis", { timeout: 120_000 }, () => {
  it("keeps data across a restart in the same dir (appendonly)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-redis-it-"));
    try {
      const first = await startRedis({ dir });
      const client = new Redis(first.url, { maxRetriesPerRequest: 1 });
      await client.set("bkb:persisted", "yes");
      await client.quit();
      await first.stop();
      assert.equal(isRunning(first.pid), false);
      assert.equal(await redisPing(first.port), false);

      const second = await startRedis({ dir });
      try {
        const again = new Redis(second.url, { maxRetriesPerRequest: 1 });
        assert.equal(await again.get("bkb:persisted"), "yes");
        await again.quit();
      } finally {
        await second.stop();
      }
      assert.equal(isRunning(second.pid), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("startRegistry with auth", { timeout: 120_000 }, () => {
  it("requires the htpasswd user's basic credentials", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-registry-it-"));
    const registry = await startRegistry({ dir, htpasswd: { username: "ci", password: "s3cret-pw" } });
    try {
      const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      const anonymous = await fetch(`http://${registry.addr}/v2/`);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic realm=/);
      assert.equal((await fetch(`http://${registry.addr}/v2/`, { headers: { Authorization: basic("ci", "wrong") } })).status, 401);
      assert.equal((await fetch(`http://${registry.addr}/v2/`, { headers: { Authorization: basic("ci", "s3cret-pw") } })).status, 200);
      const config = await readFile(join(dir, "config.yml"), "utf8");
      assert.doesNotMatch(config, /s3cret-pw/);
      assert.doesNotMatch(await readFile(join(dir, "htpasswd"), "utf8"), /s3cret-pw/);
    } finally {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(isRunning(registry.pid), false);
  });

  it("passes tokenAuth into the config: anonymous requests are sent to the token realm", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-registry-it-"));
    const cert = join(dir, "token-ca.pem");
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-subj", "/CN=bkb test token issuer", "-days", "1", "-keyout", join(dir, "token-ca.key"), "-out", cert,
    ]);
    const registry = await startRegistry({
      dir,
      tokenAuth: { realm: "http://127.0.0.1:9/token", service: "bkb-registry", issuer: "bkb-test-issuer", rootCertBundle: cert },
    });
    try {
      const res = await fetch(`http://${registry.addr}/v2/`);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="http://127.0.0.1:9/token",service="bkb-registry"');
    } finally {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
