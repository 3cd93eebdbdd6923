import { NO_BUILDKITD_HINT } from "./stack/buildkitd-binary.js";
import { startBuildkitd } from "./stack/buildkitd.js";
import { startEngine } from "./stack/engine.js";
import { testStack } from "./stack/env.js";
import type { TestStack } from "./stack/env.js";

/** One BuildKit daemon kind a parametrised suite runs on. */
export interface TestDaemon {
  kind: "buildkitd" | "docker-engine";
  /** For test names: `buildkitd` or `Docker Engine`. */
  name: string;
  /** The address to connect to; empty when `skip` is set. */
  address: string;
  /** False, or the one line saying what to provide (a `describe`'s skip option). */
  skip: false | string;
}

/** The standalone buildkitd of the stack (or `BKB_TEST_BUILDKITD_ADDR`), skipped with a hint when there is none. */
export function buildkitdDaemon(stack: TestStack = testStack()): TestDaemon {
  return stack.buildkitdAddr
    ? { kind: "buildkitd", name: "buildkitd", address: stack.buildkitdAddr, skip: false }
    : { kind: "buildkitd", name: "buildkitd", address: "", skip: NO_BUILDKITD_HINT };
}

export function engineDaemon(stack: TestStack = testStack()): TestDaemon {
  return { kind: "docker-engine", name: "Docker Engine", address: stack.buildkitAddr, skip: false };
}

/**
 * Both daemons every build path runs on: `for (const daemon of testDaemons()) describe(`… on ${daemon.name}`,
 * { skip: daemon.skip }, () => …)`.
 */
export function testDaemons(stack: TestStack = testStack()): TestDaemon[] {
  return [buildkitdDaemon(stack), engineDaemon(stack)];
}

/** A second daemon of the same kind with an empty root (no build cache), for cache-import tests; stop it in finally. */
export interface FreshDaemon {
  address: string;
  stop(): Promise<void>;
}

/** Why a fresh daemon of this kind cannot be started here (buildkitd given only as an address), or false. */
export function freshDaemonSkip(daemon: TestDaemon, stack: TestStack = testStack()): false | string {
  return daemon.kind === "buildkitd" && !stack.buildkitdBinary ? NO_BUILDKITD_HINT.replace("or point BKB_TEST_BUILDKITD_ADDR=tcp://host:port at a running daemon", "(a fresh daemon needs the binary, not just an address)") : false;
}

export async function startFreshDaemon(daemon: TestDaemon, dir: string, stack: TestStack = testStack()): Promise<FreshDaemon> {
  if (daemon.kind === "docker-engine") return startEngine({ dir });
  if (!stack.buildkitdBinary) throw new Error(NO_BUILDKITD_HINT);
  return startBuildkitd({ dir, binary: stack.buildkitdBinary });
}
