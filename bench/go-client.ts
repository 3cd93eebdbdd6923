import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BuildKitClient } from "../src/buildkit/client.js";
import type { BuildContext } from "../src/buildkit/build-request.js";
import { startGitServer } from "../test/support/git-server.js";
import type { Benchmark, BenchContext, BenchResult } from "./support/benchmark.js";
import { dockerBuild, makeEngineCold } from "./support/docker-cli.js";
import { describeSpread, pairedRatios, spread } from "./support/stats.js";
import { ratio } from "./support/table.js";

/**
 * Item 6: the same solve through our client and through Docker's own CLI (/usr/bin/docker 20.10, BuildKit via
 * DOCKER_BUILDKIT=1) on the same Engine, both tagging the image in the Engine (no push): a local context and a git
 * context, cold and warm, alternating ours/docker.
 */

const GOAL_RATIO = 1.05;

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

interface Case {
  context: "local" | "git";
  cold: boolean;
  ours: number[];
  /** Of each of our runs: connect (for an Engine: /_ping and the /grpc upgrade) + capabilities, before the solve. */
  connect: number[];
  docker: number[];
}

export const goClient: Benchmark = {
  name: "go-client",
  title: "6. Our client versus Docker's Go client (CLI)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    // Warm builds take ~0.1 s and vary by tens of ms on both sides: more pairs steady their median.
    const pairsOf = (cold: boolean): number => (ctx.quick ? 2 : cold ? 5 : 15);
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
      const contexts: Record<Case["context"], { ours: BuildContext; docker: string }> = {
        local: { ours: { type: "local", dir }, docker: dir },
        git: { ours: { type: "git", remote: repo.remote, ref: "main" }, docker: `${repo.remote}#main` },
      };
      const ours = async (c: Case["context"]): Promise<{ ms: number; connectMs: number }> => {
        const started = performance.now();
        const client = await BuildKitClient.connect(ctx.stack.buildkitAddr);
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
      const docker = (c: Case["context"]) => dockerBuild(ctx.stack.dockerSocket, ["-t", tag("docker"), contexts[c].docker]);

      const cases: Case[] = [];
      for (const context of ["local", "git"] as const) {
        for (const cold of [true, false]) {
          const c: Case = { context, cold, ours: [], connect: [], docker: [] };
          const pairs = pairsOf(cold);
          ctx.log(`go-client: ${context} context, ${cold ? "cold" : "warm"}: 1 warm-up pair (discarded) + ${pairs} pairs`);
          for (let i = 0; i <= pairs; i++) {
            if (cold) await makeEngineCold(ctx.stack.dockerSocket);
            const o = await ours(context);
            if (cold) await makeEngineCold(ctx.stack.dockerSocket);
            const d = await docker(context);
            if (i === 0) continue;
            c.ours.push(o.ms);
            c.connect.push(o.connectMs);
            c.docker.push(d);
          }
          cases.push(c);
        }
      }
      const label = (c: Case) => `${c.context} context, ${c.cold ? "cold" : "warm"}`;
      return {
        tables: [
          {
            title: `Same Dockerfile, same Engine, ${pairsOf(true)} ours/docker pairs per cold row and ${pairsOf(false)} per warm row (medians, range in brackets)`,
            columns: ["case", "our client (in-process)", "of which connect + capabilities", "docker build (20.10 CLI)", "ratio ours/docker"],
            rows: cases.map((c) => {
              const r = pairedRatios(c.docker, c.ours);
              return [label(c), describeSpread(spread(c.ours)), describeSpread(spread(c.connect)), describeSpread(spread(c.docker)), `${ratio(r.median)} (${ratio(r.min)}–${ratio(r.max)})`];
            }),
          },
        ],
        goals: cases.map((c) => {
          const r = pairedRatios(c.docker, c.ours);
          return { goal: `ours/docker ≤ ${GOAL_RATIO}× (${label(c)})`, measured: `${ratio(r.median)} median over ${r.n} pairs`, met: r.median <= GOAL_RATIO };
        }),
        notes: [
          "Dockerfile: busybox base from the local registry, a RUN hashing 120 MB, a COPY of the context (the Dockerfile and 200 files of 8 KB), a RUN listing them. Both sides export to the Engine's image store under a tag, without a push.",
          "Ours = `BuildKitClient.connect` + `solve()` + `close()` in the bench process (Node already running, modules loaded). Docker = the wall time of `/usr/bin/docker build --progress=plain -t … <context>` with DOCKER_BUILDKIT=1, process start and exit included (the Go CLI starts in tens of ms; our CLI would add Node's start, so the library is what is compared).",
          "Git context: a public repository on the local git server (`http://127.0.0.1:<port>/bench/go-client.git#main`), since the 20.10 CLI cannot pass BuildKit a git token; the daemon fetches it itself in both cases.",
          "Cold = build cache pruned and all images removed before every run (private Engine); warm = everything cached. Runs alternate ours, docker; the first pair per row is a warm-up and is discarded; ratios are per pair, then the median.",
        ],
      };
    } finally {
      await git.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
