import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import type { TestStack } from "../../test/support/stack/env.js";
import { makeEngineCold } from "./docker-cli.js";
import { cleanClientEnv } from "./timed-process.js";

const run = promisify(execFile);

/** One BuildKit daemon of the bench stack that a benchmark runs on, with the way to make it cold. */
export interface BenchDaemon {
  kind: "docker-engine" | "buildkitd";
  /** For tables: `Docker Engine` or `buildkitd`. */
  name: string;
  address: string;
  /** Empties the daemon's build cache (and, for the Engine, its image store), so every step runs again. */
  makeCold(): Promise<void>;
  /** How `makeCold` does it, for the notes. */
  coldMethod: string;
}

export class NoBuildctlError extends Error {
  override readonly name = "NoBuildctlError";
}

export function engineBenchDaemon(stack: TestStack): BenchDaemon {
  return {
    kind: "docker-engine",
    name: "Docker Engine",
    address: stack.buildkitAddr,
    makeCold: () => makeEngineCold(stack.dockerSocket),
    coldMethod: "`docker builder prune -af` and `docker image prune -af` on the private Engine",
  };
}

/**
 * The bench stack's own buildkitd (scripts/bench.sh never hands the stack an external daemon, so pruning it touches
 * nobody else's cache). Cold = `buildctl prune --all`: its OCI worker keeps no image store (worker/runc sets
 * ImageStore nil), so once every cache record is gone, the base image's blobs are too and the next build pulls them.
 */
export function buildkitdBenchDaemon(stack: TestStack, buildctl: string): BenchDaemon | undefined {
  const address = stack.buildkitdAddr;
  if (!address) return undefined;
  return {
    kind: "buildkitd",
    name: "buildkitd",
    address,
    makeCold: async () => {
      await run(buildctl, ["--addr", address, "prune", "--all"], { env: cleanClientEnv(), maxBuffer: 16 * 1024 * 1024 });
    },
    coldMethod: "`buildctl --addr … prune --all` on the bench stack's private buildkitd (its OCI worker has no image store, so the base image's blobs go with the cache and are pulled again)",
  };
}

/**
 * The stack's buildkitd (what production runs), then the Engine; the Engine alone when the stack has no buildkitd.
 * `BKB_BENCH_DAEMON=buildkitd|docker-engine` keeps one of them (run.ts then leaves BENCHMARKS.md alone: a section
 * holds both daemons' rows).
 */
export async function benchDaemons(stack: TestStack): Promise<BenchDaemon[]> {
  const engine = engineBenchDaemon(stack);
  const buildkitd = stack.buildkitdAddr ? buildkitdBenchDaemon(stack, await findBuildctl(stack)) : undefined;
  const all = buildkitd ? [buildkitd, engine] : [engine];
  const only = onlyDaemon();
  return only ? all.filter((d) => d.kind === only) : all;
}

/** The daemon kind `BKB_BENCH_DAEMON` names, if any. */
export function onlyDaemon(env: NodeJS.ProcessEnv = process.env): BenchDaemon["kind"] | undefined {
  const value = env.BKB_BENCH_DAEMON;
  if (!value) return undefined;
  if (value !== "buildkitd" && value !== "docker-engine") throw new Error(`BKB_BENCH_DAEMON=${value}: expected buildkitd or docker-engine`);
  return value;
}

/** `buildctl` next to the stack's buildkitd binary (the release tarball holds both), else on PATH. */
export async function findBuildctl(stack: TestStack): Promise<string> {
  const candidates = [
    ...(stack.buildkitdBinary ? [join(dirname(stack.buildkitdBinary), "buildctl")] : []),
    ...(process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "buildctl")),
  ];
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // next candidate
    }
  }
  throw new NoBuildctlError(`no buildctl next to ${stack.buildkitdBinary ?? "the buildkitd binary (BKB_TEST_BUILDKITD_BIN unset)"} nor on PATH`);
}
