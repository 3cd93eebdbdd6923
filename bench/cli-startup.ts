import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createAppCredentials } from "../test/support/fake-github/app-credentials.js";
import { freePort } from "../test/support/stack/free-port.js";
import { startRedis } from "../test/support/stack/redis.js";
import { findBuildctl } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { compileCli, productionEnv, productionNodeFlags } from "./support/compiled-app.js";
import { describeSpread, pairedRatios, spread } from "./support/stats.js";
import type { Spread } from "./support/stats.js";
import { ratio } from "./support/table.js";
import type { Table } from "./support/table.js";
import { cleanClientEnv, timedProcess } from "./support/timed-process.js";

/**
 * Issue 16 point 7: the `buildkit-bot` CLI as a whole process, as `npm run build` then `node bin/buildkit-bot.js`
 * runs it (compiled with tsconfig.build.json, the launcher's compile cache on), side by side with what it is
 * measured against in the same run, alternating A/B and B/A: `--help` against a bare `node -e 0`, and a warm local
 * build against `buildctl build` of the same context on the same buildkitd. Then the app's own start-up: the
 * compiled app with the web role, from spawn to its first answered /ping.
 */

const GOAL_HELP_RATIO = 1.5;
const GOAL_BUILD_RATIO = 2;

interface Row {
  label: string;
  a: { name: string; samples: number[] };
  b: { name: string; samples: number[] };
  goal: number;
}

export const cliStartup: Benchmark = {
  name: "cli",
  title: "8. CLI start-up and a warm local build, against node and buildctl",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const pairs = ctx.quick ? 4 : 20;
    const address = ctx.stack.buildkitdAddr;
    if (!address) throw new Error("the cli benchmark needs the stack's buildkitd (BKB_TEST_BUILDKITD_ADDR)");
    const buildctl = await findBuildctl(ctx.stack);
    ctx.log("cli: compiling the package (tsconfig.build.json) with its launcher");
    const cli = await compileCli(join(ctx.root, "bench", "cli-startup"));
    const dir = join(ctx.root, "bench", `cli-startup-${randomBytes(4).toString("hex")}`);
    await mkdir(join(dir, "src"), { recursive: true });
    await writeFile(join(dir, "Dockerfile"), `FROM ${ctx.stack.baseImage}\nCOPY . /src\nRUN ls /src > /listing\n`);
    for (let i = 0; i < 20; i++) await writeFile(join(dir, "src", `file${i}.txt`), `${i}\n`.repeat(512));
    const env = cleanClientEnv();
    const node = process.execPath;

    const help: Row = {
      label: "`--help`",
      a: { name: "`node -e 0`", samples: [] },
      b: { name: "`node bin/buildkit-bot.js --help`", samples: [] },
      goal: GOAL_HELP_RATIO,
    };
    const build: Row = {
      label: "warm local build",
      a: { name: "`buildctl build --progress=plain`", samples: [] },
      b: { name: "`node bin/buildkit-bot.js build local --progress plain`", samples: [] },
      goal: GOAL_BUILD_RATIO,
    };
    const runs: Array<{ row: Row; a: () => Promise<number>; b: () => Promise<number> }> = [
      {
        row: help,
        a: () => timedProcess(node, ["-e", "0"], env),
        b: () => timedProcess(node, [cli, "--help"], env),
      },
      {
        row: build,
        a: () =>
          timedProcess(
            buildctl,
            ["--addr", address, "build", "--progress=plain", "--frontend", "dockerfile.v0", "--local", `context=${dir}`, "--local", `dockerfile=${dir}`, "--output", "type=image,name=bench/cli:buildctl,push=false"],
            env,
          ),
        b: () => timedProcess(node, [cli, "build", "local", "--context", dir, "--addr", address, "--progress", "plain", "-t", "bench/cli:ours"], env),
      },
    ];
    for (const { row, a, b } of runs) {
      ctx.log(`cli: ${row.label}: 2 warm-up pairs (discarded) + ${pairs} pairs, order alternating`);
      for (let i = -2; i < pairs; i++) {
        // Alternate which side goes first, so drift on this shared machine hits both alike.
        let x: number;
        let y: number;
        if (i % 2 === 0) {
          x = await a();
          y = await b();
        } else {
          y = await b();
          x = await a();
        }
        if (i < 0) continue;
        row.a.samples.push(x);
        row.b.samples.push(y);
      }
    }

    const appRuns = ctx.quick ? 3 : 10;
    ctx.log(`cli: the app's start-up (web role), ${appRuns} runs after 1 discarded`);
    const appStart = await appStartUp(ctx, cli, appRuns);

    const withRange = (r: Spread) => `${ratio(r.median)} (${ratio(r.min)}–${ratio(r.max)})`;
    const rows = [help, build];
    const tables: Table[] = [
      {
        title: `Whole processes, warm, ${pairs} pairs per row run back to back in alternating order (medians, range in brackets)`,
        columns: ["case", "baseline", "baseline time", "our CLI", "our CLI time", "ratio ours/baseline"],
        rows: rows.map((r) => [r.label, r.a.name, describeSpread(spread(r.a.samples)), r.b.name, describeSpread(spread(r.b.samples)), withRange(pairedRatios(r.a.samples, r.b.samples))]),
      },
      {
        title: `The app's start-up: compiled, the Dockerfile's node flags, BUILDKIT_BOT_ROLE=web, spawn → first answered /ping (${appRuns} runs)`,
        columns: ["case", "time"],
        rows: [["web role to listening", describeSpread(spread(appStart))]],
      },
    ];
    const goals: GoalResult[] = rows.map((r) => {
      const q = pairedRatios(r.a.samples, r.b.samples);
      return { goal: `${r.label}: ours ≤ ${r.goal}× ${r.a.name}`, measured: `${ratio(q.median)} median over ${q.n} pairs`, met: q.median <= r.goal };
    });
    await rm(dir, { recursive: true, force: true });
    return {
      tables,
      goals,
      notes: [
        "Every time is a whole process, spawn to exit, output piped: Node's start, loading the code, connecting, the build and the exit.",
        "Our CLI is `npm run build`'s output run through bin/buildkit-bot.js, which turns on Node's module compile cache (the first warm-up run fills it).",
        `The build: \`FROM ${ctx.stack.baseImage}\`, \`COPY . /src\`, \`RUN ls /src\` over a 21-file context, on the stack's buildkitd v0.24.0; both clients export an image without pushing (buildkitd's OCI worker keeps it in its content store). Warm: every step is cached after the warm-up pairs, so the time is the client's own cost plus the daemon's cache checks and the context's diff.`,
        "Ratios are the median of each pair's ratio; the pair's two processes ran back to back.",
      ],
    };
  },
};

/** Spawn → first answered /ping of the compiled app, web role only, against a private Redis; `runs` timings. */
async function appStartUp(ctx: BenchContext, cli: string, runs: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-bench-cli-app-"));
  const redis = await startRedis({ dir: join(dir, "redis") });
  try {
    const creds = createAppCredentials(7002);
    const keyFile = join(dir, "github-app-private-key");
    await writeFile(keyFile, creds.privateKeyPem, { mode: 0o400 });
    const main = join(cli, "..", "..", "dist", "app", "main.js");
    const flags = await productionNodeFlags();
    const imageEnv = await productionEnv();
    const times: number[] = [];
    for (let i = -1; i < runs; i++) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...imageEnv,
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        APP_ID: String(creds.appId),
        PRIVATE_KEY_PATH: keyFile,
        WEBHOOK_SECRET: "whsec-bench-cli",
        HOST: "127.0.0.1",
        PORT: String(port),
        BUILDKIT_BOT_ROLE: "web",
        BUILDKIT_BOT_REDIS_URL: redis.url,
        BUILDKIT_BOT_REGISTRY: `${ctx.stack.registry}/bench-cli`,
        BUILDKIT_HOST: ctx.stack.buildkitAddr,
        BUILDKIT_BOT_QUEUE_PREFIX: "bench-cli",
        BUILDKIT_BOT_PUBLIC_URL: "https://buildkit-bot.bench.invalid",
      };
      const started = performance.now();
      const child = spawn(process.execPath, [...flags, main], { cwd: join(cli, "..", ".."), env, stdio: ["ignore", "ignore", "ignore"] });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      try {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const ok = await fetch(`http://127.0.0.1:${port}/ping`, { signal: AbortSignal.timeout(1_000) }).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) break;
          if (child.exitCode !== null) throw new Error(`the compiled app exited ${child.exitCode} before answering /ping`);
          if (Date.now() > deadline) throw new Error("the compiled app did not answer /ping within 60 s");
          await sleep(5);
        }
        if (i >= 0) times.push(performance.now() - started);
      } finally {
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(30_000).then(() => child.kill("SIGKILL"))]);
      }
    }
    return times;
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
