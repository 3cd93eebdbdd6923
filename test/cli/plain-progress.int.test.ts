import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { runCli } from "../../src/cli/main.js";
import { buildkitdDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { capture } from "./cli-io.js";

const run = promisify(execFile);
const stack = testStack();
const daemon = buildkitdDaemon();

/**
 * Golden comparison of `--progress plain` with buildctl's (the progress printer buildx uses too): the same build on
 * the same buildkitd, once through `buildctl build --progress=plain` and once through our CLI, both outputs masked
 * (durations, log offsets, digests) and compared step by step.
 */

/**
 * Masks what differs between two runs of one build: durations, log offsets, digests, the context's run id, and the
 * bracket of a FROM step's name — buildkitd names a vertex after the first build that made it while it is still in
 * its solver, and the base image's vertex is shared with builds before or beside it (`[1/3] FROM` printed by a 4-step
 * build, `[stage-0 1/2] FROM` by a one-stage build while another test's build of a named stage runs).
 */
function mask(text: string): string {
  return text
    .replace(/^(#\d+) \[[^\]]*\] FROM /gm, "$1 [<from>] FROM ")
    .replace(/sha256:[0-9a-f]{64}/g, "sha256:<digest>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(/^(#\d+) \d+\.\d+ /gm, "$1 <offset> ")
    .replace(/^\d+\.\d+ /gm, "<offset> ")
    // A duration is printed only above 10 ms, so it is dropped rather than masked.
    .replace(/ \d+\.\ds( done)?$/gm, "$1");
}

interface Printed {
  /** Step name → its lines (headers and `#N ...` left out; a step's blocks joined), for steps in order of number. */
  steps: Map<string, string[]>;
  /** Everything after the progress (the failed steps' log blocks, error lines), masked. */
  tail: string[];
}

/**
 * Reads plain progress into steps. Timing decides how two running steps interleave and whether a sub-status is
 * caught half-way, in buildctl as in ours: so blocks are joined per step, and `#N ...` lines and running sub-status
 * lines (no `done` yet) are dropped. BuildKit runs some vertexes twice (`load build context`); whether the first
 * run's DONE shows before the second run's sub-statuses depends on when the printer redraws (every 100 ms in
 * buildctl), so a step's last DONE/CACHED/ERROR/CANCELED line is compared at its end, and earlier ones dropped.
 */
function readPlain(text: string): Printed {
  const names = new Map<string, string>();
  const steps = new Map<string, string[]>();
  const tail: string[] = [];
  let inProgress = true;
  for (const line of mask(text).split("\n")) {
    const m = /^#(\d+) (.*)$/.exec(line);
    if (inProgress && m) {
      const [, n, rest] = m as unknown as [string, string, string];
      if (!names.has(n)) {
        names.set(n, rest);
        steps.set(rest, []);
        continue;
      }
      const name = names.get(n) as string;
      if (rest === "..." || rest === name) continue;
      (steps.get(name) as string[]).push(rest);
      continue;
    }
    if (line === "" && inProgress) continue;
    inProgress = false;
    if (line !== "") tail.push(line);
  }
  for (const [name, lines] of steps) {
    const kept = lines.filter((l) => !isRunningStatus(l) && !isEnd(l));
    const end = lines.filter(isEnd).at(-1);
    steps.set(name, end === undefined ? kept : [...kept, end]);
  }
  return { steps, tail };
}

/**
 * The one known difference, applied to both sides: buildkitd 0.24 reports the base image's vertex completed and, in a
 * later message, cached — or only cached, when the image was already there. buildctl prints whichever state its
 * 100 ms redraw sees last; our tracker settles a step on the first end it gets. So a FROM step's end compares as one.
 */
function known(name: string, lines: string[]): string[] {
  return / FROM /.test(name) ? lines.map((l) => (l === "CACHED" ? "DONE" : l)) : lines;
}

function isEnd(line: string): boolean {
  return /^(DONE|CACHED|ERROR: |CANCELED)/.test(line);
}

/** `transferring context: 12B` with no `done`: a sub-status caught while it ran. */
function isRunningStatus(line: string): boolean {
  return !/ done$/.test(line) && !/^(<offset> |DONE|CACHED|ERROR: |CANCELED|WARN: )/.test(line);
}

async function buildctlPath(): Promise<string | undefined> {
  if (!stack.buildkitdBinary) return undefined;
  const path = join(dirname(stack.buildkitdBinary), "buildctl");
  return access(path).then(
    () => path,
    () => undefined,
  );
}

describe("--progress plain against buildctl's, same build on buildkitd", { skip: daemon.skip }, () => {
  let work: string;
  let buildctl: string | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-cli-golden-"));
    buildctl = await buildctlPath();
    // The base image fetched and unpacked once before the comparisons: otherwise whichever client runs first prints
    // the layer's download and extraction and the other does not, whatever their progress code.
    if (buildctl) {
      const warm = await theirs(await context("warm-up", `FROM ${stack.baseImage}\nRUN echo warm\n`), join(work, "warm-up-out"));
      assert.equal(warm.code, 0, warm.stderr);
    }
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function context(name: string, dockerfile: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir);
    await writeFile(join(dir, "Dockerfile"), dockerfile);
    // New content each run: COPY and RUN run again without --no-cache (which makes buildkitd 0.24 report the FROM
    // vertex done and then cached, a detail our tracker and buildctl settle differently).
    await writeFile(join(dir, "hello.txt"), `hello from the context\n${randomUUID()}\n`);
    return dir;
  }

  async function theirs(dir: string, out: string): Promise<{ code: number; stderr: string }> {
    if (!buildctl) throw new Error("no buildctl next to BKB_TEST_BUILDKITD_BIN");
    const args = ["--addr", daemon.address, "build", "--progress=plain", "--frontend", "dockerfile.v0"];
    args.push("--local", `context=${dir}`, "--local", `dockerfile=${dir}`, "--output", `type=local,dest=${out}`);
    try {
      const { stderr } = await run(buildctl, args, { env: { PATH: process.env.PATH ?? "" } });
      return { code: 0, stderr };
    } catch (error) {
      const e = error as { code?: number; stderr?: string };
      return { code: e.code ?? -1, stderr: e.stderr ?? "" };
    }
  }

  async function ours(dir: string, out: string): Promise<{ code: number; stderr: string; stdout: string }> {
    const stdout = capture();
    const stderr = capture();
    const code = await runCli(["build", "local", dir, "--progress", "plain", "-o", `type=local,dest=${out}`, "--addr", daemon.address], {
      stdout: stdout.stream,
      stderr: stderr.stream,
      env: { DOCKER_CONFIG: work },
      cwd: work,
    });
    return { code, stderr: stderr.text(), stdout: stdout.text() };
  }

  test("a successful build: the same steps with the same lines", { timeout: 180_000 }, async (t) => {
    if (!buildctl) return t.skip("no buildctl next to the stack's buildkitd");
    const dockerfile = `FROM ${stack.baseImage}\nCOPY hello.txt /\nRUN cat /hello.txt && echo second line\n`;
    const golden = await theirs(await context("ok-theirs", dockerfile), join(work, "ok-theirs-out"));
    assert.equal(golden.code, 0, golden.stderr);
    const result = await ours(await context("ok-ours", dockerfile), join(work, "ok-ours-out"));
    assert.equal(result.code, ExitCode.Ok, result.stderr);

    const expected = readPlain(golden.stderr);
    const actual = readPlain(result.stderr);
    assert.deepEqual([...actual.steps.keys()].sort(), [...expected.steps.keys()].sort(), `steps differ:\n${result.stderr}\n--- buildctl:\n${golden.stderr}`);
    for (const [name, lines] of expected.steps) assert.deepEqual(known(name, actual.steps.get(name) ?? []), known(name, lines), `step "${name}"`);
    assert.deepEqual(actual.tail, expected.tail);
    // Nothing says the same thing twice (the old `transferring context: transferring 49B done`).
    assert.doesNotMatch(result.stderr, /\b(\w+) \w+: \1\b/);
    assert.match(result.stderr, /^#\d+ \d+\.\d{3} hello from the context$/m);
  });

  test("a failing RUN: the same steps and log block, then the Dockerfile lines with a marker", { timeout: 180_000 }, async (t) => {
    if (!buildctl) return t.skip("no buildctl next to the stack's buildkitd");
    const dockerfile = `FROM ${stack.baseImage}\nCOPY hello.txt /\nRUN echo about to fail && exit 3\nRUN echo never\n`;
    const golden = await theirs(await context("fail-theirs", dockerfile), join(work, "fail-theirs-out"));
    assert.notEqual(golden.code, 0);
    const result = await ours(await context("fail-ours", dockerfile), join(work, "fail-ours-out"));
    assert.equal(result.code, ExitCode.BuildFailed, result.stderr);

    const expected = readPlain(golden.stderr);
    const actual = readPlain(result.stderr);
    assert.deepEqual([...actual.steps.keys()].sort(), [...expected.steps.keys()].sort(), `steps differ:\n${result.stderr}\n--- buildctl:\n${golden.stderr}`);
    for (const [name, lines] of expected.steps) assert.deepEqual(known(name, actual.steps.get(name) ?? []), known(name, lines), `step "${name}"`);

    // buildctl: the failed step's last log lines between rules, then its one error line.
    const block = (tail: string[]) => tail.slice(0, tail.lastIndexOf("------") + 1);
    assert.deepEqual(block(actual.tail), block(expected.tail));
    assert.deepEqual(block(actual.tail), ["------", " > [3/4] RUN echo about to fail && exit 3:", "<offset> about to fail", "------"]);
    // Then, as buildx prints it, the Dockerfile around the failing line, and one error line.
    const rest = actual.tail.slice(block(actual.tail).length);
    assert.deepEqual(rest.slice(0, 8), [
      "Dockerfile:3",
      "--------------------",
      "   1 |     FROM " + stack.baseImage,
      "   2 |     COPY hello.txt /",
      "   3 | >>> RUN echo about to fail && exit 3",
      "   4 |     RUN echo never",
      "   5 |     ",
      "--------------------",
    ]);
    assert.equal(rest.length, 9);
    assert.match(rest[8] as string, /^error: /);
    assert.equal(result.stderr.split("\n").filter((l) => /^(error|ERROR|buildkit-bot):/.test(l)).length, 1, "one error line");
  });
});
