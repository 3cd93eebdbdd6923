import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BuildKitClient } from "@buildkit-bot/buildkit";
import type { BuildContext } from "@buildkit-bot/buildkit";
import { startGitServer } from "../test/support/git-server.js";
import { buildkitdBenchDaemon, engineBenchDaemon, findBuildctl } from "./support/bench-daemon.js";
import type { BenchDaemon } from "./support/bench-daemon.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { compileCli } from "./support/compiled-app.js";
import { dockerBuild } from "./support/docker-cli.js";
import { describeSpread, pairedRatios, spread } from "./support/stats.js";
import type { Spread } from "./support/stats.js";
import { ratio } from "./support/table.js";
import type { Table } from "./support/table.js";
import { cleanClientEnv, timedProcess } from "./support/timed-process.js";

/**
 * Item 6: the same solve through our client and through Docker's own CLI (/usr/bin/docker 20.10, BuildKit via
 * DOCKER_BUILDKIT=1) on the same Engine, both tagging the image in the Engine (no push): a local context and a git
 * context, cold and warm, alternating ours/docker. Issue 13: on the standalone buildkitd, the same against its own Go
 * client, buildctl: our library in this process and our CLI as a whole process, each beside `buildctl build`.
 */

const GOAL_RATIO = 1.05;
/** buildkitd, warm: our library (in this process) against buildctl (a whole process). */
const BUILDKITD_GOAL_LIBRARY_RATIO = 1.0;

function dockerfile(base: string): string {
  return [`FROM ${base}`, "RUN head -c 120000000 /dev/urandom | sha256sum > /random.sha256", "COPY . /src", "RUN ls -R /src | wc -l > /src-count", ""].join("\n");
}

/** A small source tree: the Dockerfile and 200 files of 8 KB in 10 directories. */
function contextFiles(base: string): Record<string, string> {
  const files: Record<string, string> = { Dockerfile: dockerfile(base) };
  for (let d = 0; d < 10; d++) {
    for (let f = 0; f < 20; f++) files[`src/dir${d}/file${f}.txt`] = `${d}-${f}\n`.repeat(2048).slice(0, 8192);
  }
  return files;
}

type ContextKind = "local" | "git";

interface Case {
  context: ContextKind;
  cold: boolean;
  ours: number[];
  /** Of each of our runs: connect (for an Engine: /_ping and the /grpc upgrade) + capabilities, before the solve. */
  connect: number[];
  docker: number[];
}

/** One buildkitd row: the three clients run back to back (order rotated) for every sample. */
interface BuildkitdCase {
  context: ContextKind;
  cold: boolean;
  library: number[];
  connect: number[];
  buildctl: number[];
  cli: number[];
}

export const goClient: Benchmark = {
  name: "go-client",
  title: "6. Our client versus Docker's Go client (CLI)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    // Warm builds take ~0.1 s and vary by tens of ms on both sides: more pairs steady their median.
    const pairsOf = (cold: boolean): number => (ctx.quick ? 2 : cold ? 5 : 15);
    const engine = engineBenchDaemon(ctx.stack);
    const buildkitd = ctx.stack.buildkitdAddr ? buildkitdBenchDaemon(ctx.stack, await findBuildctl(ctx.stack)) : undefined;
    let cli = "";
    if (buildkitd) {
      ctx.log("go-client: compiling the package (tsconfig.build.json) for the CLI runs");
      cli = await compileCli(join(ctx.root, "bench", "compiled-cli"));
    }
    const files = contextFiles(ctx.stack.baseImage);
    const dir = join(ctx.root, "bench", `go-client-${randomBytes(4).toString("hex")}`);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const git = await startGitServer();
    try {
      const repo = await git.createRepo("bench", "go-client");
      await repo.commit(files, { message: "bench context" });
      // The plain 20.10 CLI cannot hand BuildKit a git token (only buildx serves GIT_AUTH_TOKEN), so this one
      // repository is served without credentials, to both clients alike.
      git.publicRepos.add("bench/go-client");

      const tag = (who: string) => `bench/go-client:${who}`;
      const contexts: Record<ContextKind, { ours: BuildContext; docker: string }> = {
        local: { ours: { type: "local", dir }, docker: dir },
        git: { ours: { type: "git", remote: repo.remote, ref: "main" }, docker: `${repo.remote}#main` },
      };
      const ours = async (daemon: BenchDaemon, c: ContextKind): Promise<{ ms: number; connectMs: number }> => {
        const started = performance.now();
        const client = await BuildKitClient.connect(daemon.address);
        let connectMs = 0;
        try {
          await client.capabilities();
          connectMs = performance.now() - started;
          await client.solve({ context: contexts[c].ours, output: { type: "image", names: [tag("ours")], push: false } });
        } finally {
          await client.close();
        }
        return { ms: performance.now() - started, connectMs };
      };
      const docker = (c: ContextKind) => dockerBuild(ctx.stack.dockerSocket, ["-t", tag("docker"), contexts[c].docker]);

      const cases: Case[] = [];
      for (const context of ["local", "git"] as const) {
        for (const cold of [true, false]) {
          const c: Case = { context, cold, ours: [], connect: [], docker: [] };
          const pairs = pairsOf(cold);
          ctx.log(`go-client on the Engine: ${context} context, ${cold ? "cold" : "warm"}: 1 warm-up pair (discarded) + ${pairs} pairs`);
          for (let i = 0; i <= pairs; i++) {
            if (cold) await engine.makeCold();
            const o = await ours(engine, context);
            if (cold) await engine.makeCold();
            const d = await docker(context);
            if (i === 0) continue;
            c.ours.push(o.ms);
            c.connect.push(o.connectMs);
            c.docker.push(d);
          }
          cases.push(c);
        }
      }
      const buildkitdCases: BuildkitdCase[] = [];
      if (buildkitd) {
        const buildctl = await findBuildctl(ctx.stack);
        const buildctlArgs = (c: ContextKind): string[] => [
          "--addr",
          buildkitd.address,
          "build",
          "--progress=plain",
          "--frontend",
          "dockerfile.v0",
          ...(c === "local" ? ["--local", `context=${dir}`, "--local", `dockerfile=${dir}`] : ["--opt", `context=${contexts.git.docker}`]),
          "--output",
          `type=image,name=${tag("buildctl")},push=false`,
        ];
        const cliArgs = (c: ContextKind): string[] => [
          cli,
          "build",
          ...(c === "local" ? ["local", "--context", dir] : ["github", repo.remote, "--git-ref", "main"]),
          "--addr",
          buildkitd.address,
          "--progress",
          "plain",
          "-t",
          tag("cli"),
        ];
        const env = cleanClientEnv();
        const runners: Array<(c: ContextKind, into: BuildkitdCase) => Promise<void>> = [
          async (c, into) => {
            const o = await ours(buildkitd, c);
            into.library.push(o.ms);
            into.connect.push(o.connectMs);
          },
          async (c, into) => void into.buildctl.push(await timedProcess(buildctl, buildctlArgs(c), env)),
          async (c, into) => void into.cli.push(await timedProcess(process.execPath, cliArgs(c), env)),
        ];
        for (const context of ["local", "git"] as const) {
          for (const cold of [true, false]) {
            const c: BuildkitdCase = { context, cold, library: [], connect: [], buildctl: [], cli: [] };
            const scratch: BuildkitdCase = { ...c, library: [], connect: [], buildctl: [], cli: [] };
            const samples = pairsOf(cold);
            ctx.log(`go-client on buildkitd: ${context} context, ${cold ? "cold" : "warm"}: 1 warm-up round (discarded) + ${samples} rounds of library, buildctl, CLI`);
            for (let i = 0; i <= samples; i++) {
              for (let k = 0; k < runners.length; k++) {
                const runner = runners[(i + k) % runners.length] as (typeof runners)[number];
                if (cold) await buildkitd.makeCold();
                await runner(context, i === 0 ? scratch : c);
              }
            }
            buildkitdCases.push(c);
          }
        }
      }

      const label = (c: { context: ContextKind; cold: boolean }) => `${c.context} context, ${c.cold ? "cold" : "warm"}`;
      const withRange = (r: Spread) => `${ratio(r.median)} (${ratio(r.min)}–${ratio(r.max)})`;
      const tables: Table[] = [
        {
          title: `Docker Engine: same Dockerfile, same Engine, ${pairsOf(true)} ours/docker pairs per cold row and ${pairsOf(false)} per warm row (medians, range in brackets)`,
          columns: ["case", "our client (in-process)", "of which connect + capabilities", "docker build (20.10 CLI)", "ratio ours/docker"],
          rows: cases.map((c) => {
            const r = pairedRatios(c.docker, c.ours);
            return [label(c), describeSpread(spread(c.ours)), describeSpread(spread(c.connect)), describeSpread(spread(c.docker)), withRange(r)];
          }),
        },
      ];
      const goals: GoalResult[] = cases.map((c) => {
        const r = pairedRatios(c.docker, c.ours);
        return { goal: `ours/docker ≤ ${GOAL_RATIO}× (Docker Engine, ${label(c)})`, measured: `${ratio(r.median)} median over ${r.n} pairs`, met: r.median <= GOAL_RATIO };
      });
      if (buildkitdCases.length > 0) {
        tables.push({
          title: `buildkitd v0.24.0: same Dockerfile, same daemon, ${pairsOf(true)} rounds per cold row and ${pairsOf(false)} per warm row, each round our library, buildctl and our CLI back to back (medians, range in brackets)`,
          columns: ["case", "our library (in-process)", "of which connect + capabilities", "buildctl build (whole process)", "ratio library/buildctl", "our CLI (whole process)", "ratio CLI/buildctl"],
          rows: buildkitdCases.map((c) => [
            label(c),
            describeSpread(spread(c.library)),
            describeSpread(spread(c.connect)),
            describeSpread(spread(c.buildctl)),
            withRange(pairedRatios(c.buildctl, c.library)),
            describeSpread(spread(c.cli)),
            withRange(pairedRatios(c.buildctl, c.cli)),
          ]),
        });
        for (const c of buildkitdCases.filter((x) => !x.cold)) {
          const r = pairedRatios(c.buildctl, c.library);
          goals.push({
            goal: `our library (in-process) / buildctl (whole process) ≤ ${BUILDKITD_GOAL_LIBRARY_RATIO.toFixed(1)}× (buildkitd, ${label(c)})`,
            measured: `${ratio(r.median)} median over ${r.n} rounds (our CLI as a whole process: ${ratio(pairedRatios(c.buildctl, c.cli).median)}, no goal)`,
            met: r.median <= BUILDKITD_GOAL_LIBRARY_RATIO,
          });
        }
      }
      return {
        tables,
        goals,
        notes: [
          "Dockerfile: busybox base from the local registry, a RUN hashing 120 MB, a COPY of the context (the Dockerfile and 200 files of 8 KB), a RUN listing them. Every client exports an image under a tag without a push: into the Engine's image store on the Engine; on buildkitd (whose OCI worker keeps no image store) the exporter builds the image and its manifest and keeps them in the daemon's content store.",
          "Docker Engine rows: ours = `BuildKitClient.connect` + `solve()` + `close()` in the bench process (Node already running, modules loaded). Docker = the wall time of `/usr/bin/docker build --progress=plain -t … <context>` with DOCKER_BUILDKIT=1, process start and exit included (the Go CLI starts in tens of ms).",
          "buildkitd rows (the bench stack's private buildkitd v0.24.0, started from the shipped deploy/buildkitd.toml): our library = `BuildKitClient.connect` + `capabilities()` + `solve()` + `close()` in the bench process, as in the Engine rows — in-process, so no process start, against buildctl as a whole process. buildctl = the wall time of `buildctl --addr … build --progress=plain --frontend dockerfile.v0 --local context=DIR --local dockerfile=DIR` (local) or `--opt context=<git remote>#main` (git), `--output type=image,name=…,push=false`, process start and exit included (buildctl v0.24.0 from the same release tarball as the daemon). Our CLI = the wall time of `node bin/buildkit-bot.js build local --context DIR` or `build github <git remote> --git-ref main`, with `--addr … --progress plain -t …`: the package compiled with tsconfig.build.json into a scratch root (what `npm run build` produces) and run with the bench's Node, so Node's start and module loading are inside.",
          "Git context: a public repository on the local git server (`http://127.0.0.1:<port>/bench/go-client.git#main`), since the 20.10 CLI cannot pass BuildKit a git token; every client hands the daemon the remote and the daemon fetches it itself.",
          "Cold = before every single run: on the Engine, build cache pruned and all images removed (private Engine); on buildkitd, `buildctl prune --all` on the bench stack's private daemon (its OCI worker has no image store, so the base image's blobs and the git checkout go with the cache and are fetched again). Pruning the one daemon rather than starting a fresh daemon per run keeps every client on the same long-running daemon, as in production; the prune is outside every timing. Warm = everything cached.",
          "Order: Engine rows alternate ours, docker. buildkitd rows run rounds of three (library, buildctl, CLI), the order rotated by one each round so none is always first after a prune or always last; both ratios of a round use that round's buildctl run. The first pair or round per row is a warm-up and is discarded; ratios are per pair or round, then the median.",
        ],
      };
    } finally {
      await git.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
