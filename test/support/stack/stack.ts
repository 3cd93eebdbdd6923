import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pushBaseImage } from "./base-image.js";
import { startBuildkitd, stopBuildkitd } from "./buildkitd.js";
import type { BuildkitdRecord } from "./buildkitd.js";
import { NO_BUILDKITD_HINT, locateBuildkitd } from "./buildkitd-binary.js";
import { startEngine, stopEngine } from "./engine.js";
import type { EngineRecord } from "./engine.js";
import { stackEnvLines } from "./env.js";
import type { TestStack } from "./env.js";
import { startRedis, stopRedis } from "./redis.js";
import type { RedisRecord } from "./redis.js";
import { startRegistry, stopRegistry } from "./registry.js";
import type { RegistryRecord } from "./registry.js";

/** `<root>/stack.json`: everything `stopStack` needs, written as each part comes up. */
export interface StackRecord {
  root: string;
  redis?: RedisRecord & { url: string };
  engine?: EngineRecord & { socket: string; address: string };
  registry?: RegistryRecord & { addr: string };
  /** The stack's own standalone buildkitd; absent when none was found or an external one is used. */
  buildkitd?: BuildkitdRecord & { address: string; binary: string; version: string };
  baseImage?: string;
}

export interface RunningStack {
  root: string;
  /** `<root>/env`: shell `export` lines for the `BKB_TEST_*` variables and `STACK_ROOT`. */
  envFile: string;
  stack: TestStack;
  record: StackRecord;
}

export class StackStartError extends Error {
  override readonly name = "StackStartError";
}

export interface StackOptions {
  root: string;
  /**
   * Read for `BKB_TEST_BUILDKITD_ADDR` (use that daemon instead of starting one), `BKB_BUILDKITD_BIN` (which
   * buildkitd to start) and `BKB_REQUIRE_BUILDKITD=1` or `CI=true` (fail rather than run without a buildkitd).
   */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the out-of-process parts for integration tests under `root`: Redis, a Docker Engine (with BuildKit),
 * a standalone buildkitd, a plain-HTTP registry holding a busybox base image. The git server is not here: tests
 * start it in-process.
 */
export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const env = opts.env ?? process.env;
  const root = resolve(opts.root);
  await mkdir(root, { recursive: true });
  const record: StackRecord = { root };
  // Parts come up concurrently: serialise the writes so each one sees the latest record.
  let saving: Promise<void> = Promise.resolve();
  const save = () => (saving = saving.then(() => writeJson(join(root, "stack.json"), record)));
  await save();
  try {
    const external = env.BKB_TEST_BUILDKITD_ADDR || undefined;
    const binary = await locateBuildkitd(join(root, "bin"), env);
    const required = env.BKB_REQUIRE_BUILDKITD === "1" || env.CI === "true";
    if (!external && !binary && required) throw new StackStartError(`the stack ${NO_BUILDKITD_HINT} (BKB_REQUIRE_BUILDKITD or CI is set)`);
    const [redis, engine, registry, buildkitd] = await Promise.allSettled([
      startRedis({ dir: join(root, "redis") }).then(async (r) => {
        record.redis = { pid: r.pid, port: r.port, url: r.url };
        await save();
        return r;
      }),
      startEngine({ dir: join(root, "engine") }).then(async (e) => {
        record.engine = { pid: e.pid, dir: join(root, "engine"), bridge: e.bridge, socket: e.socket, address: e.address };
        await save();
        return e;
      }),
      startRegistry({ dir: join(root, "registry") }).then(async (r) => {
        record.registry = { pid: r.pid, configFile: join(root, "registry", "config.yml"), addr: r.addr };
        await save();
        return r;
      }),
      external || !binary
        ? Promise.resolve(undefined)
        : startBuildkitd({ dir: join(root, "buildkitd"), binary: binary.path }).then(async (b) => {
            record.buildkitd = { pid: b.pid, dir: join(root, "buildkitd"), bridge: b.bridge, address: b.address, binary: binary.path, version: b.version };
            await save();
            return b;
          }),
    ]);
    const failures = [redis, engine, registry, buildkitd].filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (
      failures.length > 0 ||
      redis.status !== "fulfilled" ||
      engine.status !== "fulfilled" ||
      registry.status !== "fulfilled" ||
      buildkitd.status !== "fulfilled"
    ) {
      throw new StackStartError(failures.map((f) => String(f.reason instanceof Error ? f.reason.message : f.reason)).join("\n\n"));
    }
    record.baseImage = await pushBaseImage({ socket: engine.value.socket, registry: registry.value.addr, workDir: join(root, "work") });
    await save();
    const stack: TestStack = {
      redisUrl: redis.value.url,
      dockerSocket: engine.value.socket,
      buildkitAddr: engine.value.address,
      registry: registry.value.addr,
      baseImage: record.baseImage,
      ...(external ? { buildkitdAddr: external } : buildkitd.value ? { buildkitdAddr: buildkitd.value.address } : {}),
      ...(binary ? { buildkitdBinary: binary.path } : {}),
    };
    const envFile = join(root, "env");
    await writeFile(envFile, stackEnvLines(stack, root));
    return { root, envFile, stack, record };
  } catch (err) {
    // The in-memory record is ahead of (or equal to) stack.json, whatever failed.
    await stopRecordedParts(record).catch(() => undefined);
    throw err;
  }
}

/** Stops every part recorded in `<root>/stack.json` (by PID) and deletes the daemons' bridges. Idempotent. */
export async function stopStack(root: string): Promise<void> {
  const absolute = resolve(root);
  let record: StackRecord;
  try {
    record = JSON.parse(await readFile(join(absolute, "stack.json"), "utf8")) as StackRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  await stopRecordedParts(record);
}

async function stopRecordedParts(record: StackRecord): Promise<void> {
  const results = await Promise.allSettled([
    record.redis ? stopRedis(record.redis) : undefined,
    record.engine ? stopEngine(record.engine) : undefined,
    record.registry ? stopRegistry(record.registry) : undefined,
    record.buildkitd ? stopBuildkitd(record.buildkitd) : undefined,
  ]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length > 0) {
    throw new Error(`stopping the stack in ${record.root} failed:\n${failures.map((f) => String(f.reason)).join("\n")}`);
  }
}

export async function readStackRecord(root: string): Promise<StackRecord> {
  return JSON.parse(await readFile(join(resolve(root), "stack.json"), "utf8")) as StackRecord;
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}
