import { NO_BUILDKITD_HINT } from "./stack/buildkitd-binary.js";
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
