import { spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import type { Result } from "autocannon";
import { createAppCredentials } from "../test/support/fake-github/app-credentials.js";
import { freePort } from "../test/support/stack/free-port.js";
import { startRedis } from "../test/support/stack/redis.js";
import { pushPayload } from "../test/e2e/support/payloads.js";
import type { Benchmark, BenchContext, BenchResult, GoalResult } from "./support/benchmark.js";
import { compileApp, productionNodeFlags, startCompiledApp } from "./support/compiled-app.js";
import { RssSampler } from "./support/rss-sampler.js";
import { pacedLoad } from "./support/paced-load.js";
import type { PacedLoadResult, PreparedRequest } from "./support/paced-load.js";
import { percentile } from "./support/stats.js";
import { ms } from "./support/table.js";

/**
 * Item 1: signed push deliveries at fixed rates against the app's web role (webhooks → event queue in a real
 * Redis), no workers running, so every delivery only lands in the queue. Every request gets its own delivery id
 * and head sha (nothing is deduplicated) and its own HMAC-SHA256 signature. The goals are read on a paced load
 * (support/paced-load.ts: one request every 1/rate s); autocannon's bursts are measured beside it. The app runs
 * as production runs it: compiled (tsconfig.build.json), the Dockerfile's node flags, NODE_ENV=production and its
 * default log level. BKB_BENCH_INGEST_SECONDS overrides the seconds per rate and server (e.g. 20 in a
 * BKB_BENCH_QUICK=1 run, which leaves BENCHMARKS.md alone).
 */

/** BKB_BENCH_INGEST_RATES=200,1000 runs only those rates (a quick look while working on the ingest path). */
const RATES = process.env.BKB_BENCH_INGEST_RATES ? process.env.BKB_BENCH_INGEST_RATES.split(",").map(Number) : [10, 50, 200, 1000];
/** Issue 14: p99 at most this far above the bare-Node floor measured in the same run. */
const GOAL_P99_OVER_FLOOR_MS: Record<200 | 1000, number> = { 200: 5, 1000: 20 };
/** "Sustained": the app answered at least this share of the requests the rate asks for. */
const SUSTAINED_SHARE = 0.97;
export const SHA_PLACEHOLDER = "f".repeat(40);
const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** A reference server of bench/support as a child process (it prints its port), stopped by PID. */
async function startReferenceServer(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "bench/support", script)], { cwd: REPO, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const port = await new Promise<string>((ok, fail) => {
    child.stdout.once("data", (c: Buffer) => ok(c.toString("utf8").trim()));
    child.once("exit", (code) => fail(new Error(`${script} exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** User + system CPU milliseconds `pid` has used so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Autocannon slices per rate, half for the app and half for the floor; a multiple of 4 (app, floor, floor, app, …). */
const SLICES = 8;
/** Rates also measured with autocannon's bursts (BKB_BENCH_INGEST_BURST_RATES=… to choose, empty for none). */
const BURST_RATES = (process.env.BKB_BENCH_INGEST_BURST_RATES ?? "200,1000").split(",").filter(Boolean).map(Number);

type Server = "app" | "floor" | "redis";
const SERVERS: readonly Server[] = ["app", "floor", "redis"];
const SERVER_LABEL: Record<Server, string> = { app: "app (web role)", floor: "floor: bare Node server", redis: "bare Node + one Redis write" };
/** Paced slices per rate: each server 4 times, the order mirrored so none always follows the same one. */
const PACED_ORDER: readonly Server[] = ["app", "floor", "redis", "redis", "floor", "app", "app", "floor", "redis", "redis", "floor", "app"];

const autocannonConnections = (rate: number): number => Math.max(2, Math.ceil(rate / 20));

export interface PacedRateResult extends PacedLoadResult, SliceCounts {}

/** One paced slice against a server: every request prepared and signed first, then sent on schedule. */
async function runPaced(server: { url: string; pid: number }, secret: string, bodyTemplate: string, rate: number, seconds: number): Promise<PacedRateResult> {
  const prepare = (): PreparedRequest => {
    const body = Buffer.from(bodyTemplate.replaceAll(SHA_PLACEHOLDER, randomBytes(20).toString("hex")));
    return { path: "/api/github/webhooks", body, headers: deliveryHeaders(secret, body) };
  };
  const requests = Array.from({ length: Math.round(rate * seconds) }, prepare);
  const cpuBefore = cpuMs(server.pid);
  const result = await pacedLoad({ url: server.url, rate, requests, connections: 64, timeoutMs: 10_000 });
  return { ...result, cpuPerResponseUs: ((cpuMs(server.pid) - cpuBefore) * 1000) / Math.max(1, result.latencies.length) };
}

function joinPaced(slices: PacedRateResult[]): PacedRateResult {
  return { ...sumSlices(slices), worstSendLagMs: Math.max(...slices.map((r) => r.worstSendLagMs)) };
}

/** What any server's slices at one rate add up to: every response, and the CPU per response over all of them. */
function sumSlices(slices: SliceCounts[]): SliceCounts {
  const responses = slices.reduce((n, r) => n + r.latencies.length, 0);
  return {
    rate: (slices[0] as SliceCounts).rate,
    cpuPerResponseUs: slices.reduce((sum, r) => sum + r.cpuPerResponseUs * r.latencies.length, 0) / Math.max(1, responses),
    sent: slices.reduce((n, r) => n + r.sent, 0),
    ok: slices.reduce((n, r) => n + r.ok, 0),
    errors: slices.reduce((n, r) => n + r.errors, 0),
    latencies: slices.flatMap((r) => r.latencies),
  };
}

/** A delivery's headers as GitHub sends them, signed with `secret`. */
function deliveryHeaders(secret: string, body: string | Buffer): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/bench",
    "x-github-event": "push",
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  };
}

/** One result of a rate's slices: every response, the CPU per response over all, the worst slice's CO-corrected p99. */
function joinSlices(slices: RateResult[]): RateResult {
  const worst = slices.reduce((a, b) => (b.result.latency.p99 > a.result.latency.p99 ? b : a));
  return { ...sumSlices(slices), result: worst.result };
}

interface SliceCounts {
  rate: number;
  /** The server process's CPU time per response, in µs. */
  cpuPerResponseUs: number;
  sent: number;
  ok: number;
  errors: number;
  latencies: number[];
}

export interface RateResult extends SliceCounts {
  result: Result;
}

export async function runRate(url: string, pid: number, secret: string, bodyTemplate: string, rate: number, seconds: number): Promise<RateResult> {
  const cpuBefore = cpuMs(pid);
  const latencies: number[] = [];
  let ok = 0;
  const instance = autocannon({
    url,
    connections: autocannonConnections(rate),
    duration: seconds,
    overallRate: rate,
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: "/api/github/webhooks",
        setupRequest: (req) => {
          const body = bodyTemplate.replaceAll(SHA_PLACEHOLDER, randomBytes(20).toString("hex"));
          return { ...req, body, headers: deliveryHeaders(secret, body) };
        },
      },
    ],
  });
  instance.on("response", (_client, status, _bytes, responseTime) => {
    latencies.push(responseTime);
    if (status >= 200 && status < 300) ok++;
  });
  const result = await new Promise<Result>((resolve) => instance.on("done", resolve));
  const cpuPerResponseUs = ((cpuMs(pid) - cpuBefore) * 1000) / Math.max(1, latencies.length);
  return { rate, cpuPerResponseUs, sent: result.requests.sent, ok, errors: result.errors + result.non2xx, latencies, result };
}

/** Waits until the app answers Probot's /ping. */
export async function waitForPing(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the compiled app did not answer ${url} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

export const ingest: Benchmark = {
  name: "ingest",
  title: "1. Webhook ingest (web role, real Redis, workers paused)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const seconds = Number(process.env.BKB_BENCH_INGEST_SECONDS) || (ctx.quick ? 5 : 20);
    const dir = await mkdtemp(join(tmpdir(), "bkb-bench-ingest-"));
    const redis = await startRedis({ dir: join(dir, "redis") });
    try {
      const creds = createAppCredentials(7001);
      const secret = `whsec-${randomBytes(12).toString("hex")}`;
      const port = await freePort();
      ctx.log("ingest: compiling the app (tsconfig.build.json)");
      const main = await compileApp(join(ctx.root, "bench", "ingest-app"));
      const keyFile = join(dir, "github-app-private-key");
      await writeFile(keyFile, creds.privateKeyPem, { mode: 0o400 });
      const flags = await productionNodeFlags();
      // docker-compose.yml's environment for the app, with the web role only; LOG_LEVEL and LOG_FORMAT unset, as there.
      const app = await startCompiledApp(
        main,
        {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: "production",
          APP_ID: String(creds.appId),
          PRIVATE_KEY_PATH: keyFile,
          WEBHOOK_SECRET: secret,
          HOST: "127.0.0.1",
          PORT: String(port),
          BUILDKIT_BOT_ROLE: "web",
          BUILDKIT_BOT_REDIS_URL: redis.url,
          BUILDKIT_BOT_REGISTRY: `${ctx.stack.registry}/bench-ingest`,
          BUILDKIT_HOST: ctx.stack.buildkitAddr,
          BUILDKIT_BOT_QUEUE_PREFIX: "bench-ingest",
          BUILDKIT_BOT_PUBLIC_URL: "https://buildkit-bot.bench.invalid",
        },
        join(dir, "logs"),
        "web",
      );
      await waitForPing(`http://127.0.0.1:${port}/ping`);
      const rss = new RssSampler(app.pid, 500);
      try {
        const repo = { installationId: 4100, repoId: 900_001, owner: "bench", name: "ingest", private: true, defaultBranch: "main" };
        const template = JSON.stringify(
          pushPayload(repo, { ref: "refs/heads/main", before: "e".repeat(40), after: SHA_PLACEHOLDER, files: ["Dockerfile"] }),
        );
        const url = `http://127.0.0.1:${port}`;
        ctx.log(`ingest: warm-up, 3 s at 10/s (discarded); payload ${template.length} bytes`);
        await runRate(url, app.pid, secret, template, 10, 3);
        const paced: Record<Server, PacedRateResult[]> = { app: [], floor: [], redis: [] };
        const bursts: Record<"app" | "floor", RateResult[]> = { app: [], floor: [] };
        let unbroken: PacedRateResult | undefined;
        const bare = await startReferenceServer("bare-server.ts");
        let redisFloor: Awaited<ReturnType<typeof startReferenceServer>> | undefined;
        try {
          redisFloor = await startReferenceServer("redis-floor-server.ts", { REDIS_URL: redis.url });
          const servers: Record<Server, { url: string; pid: number }> = { app: { url, pid: app.pid }, floor: bare, redis: redisFloor };
          await runRate(bare.url, bare.pid, secret, template, 10, 3);
          await runRate(redisFloor.url, redisFloor.pid, secret, template, 10, 3);
          const slice = seconds / (PACED_ORDER.length / 3);
          for (const rate of RATES) {
            ctx.log(`ingest: paced ${rate}/s for ${seconds} s each, in ${PACED_ORDER.length} slices of ${slice} s (${PACED_ORDER.join(", ")})`);
            const parts: Record<Server, PacedRateResult[]> = { app: [], floor: [], redis: [] };
            for (const who of PACED_ORDER) {
              parts[who].push(await runPaced(servers[who], secret, template, rate, slice));
              await sleep(1_000);
            }
            for (const who of SERVERS) paced[who].push(joinPaced(parts[who]));
          }
          if (RATES.includes(1000)) {
            // The slices pause between them: "sustained" is also asked of one stretch without a break.
            ctx.log(`ingest: paced 1000/s for ${seconds} s without a break, app only`);
            unbroken = await runPaced(servers.app, secret, template, 1000, seconds);
          }
          // Burst: autocannon's own rate limit (see the notes), app and floor taking turns as above.
          const burstOrder = Array.from({ length: SLICES }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? "app" : "floor"));
          const burstSlice = seconds / (SLICES / 2);
          for (const rate of BURST_RATES) {
            ctx.log(`ingest: autocannon ${rate}/s for ${seconds} s each, in ${SLICES} slices of ${burstSlice} s (${burstOrder.join(", ")})`);
            const parts: Record<"app" | "floor", RateResult[]> = { app: [], floor: [] };
            for (const who of burstOrder) {
              parts[who].push(await runRate(servers[who].url, servers[who].pid, secret, template, rate, burstSlice));
              await sleep(1_000);
            }
            bursts.app.push(joinSlices(parts.app));
            bursts.floor.push(joinSlices(parts.floor));
          }
        } finally {
          await bare.stop();
          await redisFloor?.stop();
        }
        const peakRssMb = rss.stop();
        const at = <R extends { rate: number }>(list: R[], rate: number): R | undefined => list.find((r) => r.rate === rate);
        const p99 = (r: { latencies: number[] } | undefined): number => (r ? percentile(r.latencies, 99) : Number.NaN);
        const goals: GoalResult[] = [];
        const app200 = at(paced.app, 200);
        if (app200) {
          const floor = p99(at(paced.floor, 200));
          goals.push({
            goal: `ingest p99 ≤ floor + ${GOAL_P99_OVER_FLOOR_MS[200]} ms at 200/s, no errors`,
            measured: `p99 ${p99(app200).toFixed(1)} ms (bare-Node floor ${floor.toFixed(1)} ms, +${(p99(app200) - floor).toFixed(1)} ms), ${app200.errors} errors`,
            met: p99(app200) <= floor + GOAL_P99_OVER_FLOOR_MS[200] && app200.errors === 0,
          });
        }
        const app1000 = at(paced.app, 1000);
        if (app1000) {
          const floor = p99(at(paced.floor, 1000));
          const stretch = unbroken ?? app1000;
          const sustained = stretch.ok / seconds;
          const errors = app1000.errors + (unbroken?.errors ?? 0);
          goals.push({
            goal: `1000/s sustained for ${seconds} s without a break (≥ ${SUSTAINED_SHARE * 100} % of the requests answered 2xx) with 0 errors, p99 ≤ floor + ${GOAL_P99_OVER_FLOOR_MS[1000]} ms`,
            measured: `${sustained.toFixed(0)}/s answered 2xx over ${seconds} s without a break (p99 ${p99(stretch).toFixed(1)} ms), ${errors} errors there and in the slices; in the slices beside the floor p99 ${p99(app1000).toFixed(1)} ms (bare-Node floor ${floor.toFixed(1)} ms, +${(p99(app1000) - floor).toFixed(1)} ms)`,
            met: sustained >= SUSTAINED_SHARE * 1000 && errors === 0 && p99(app1000) <= floor + GOAL_P99_OVER_FLOOR_MS[1000],
          });
        }
        const latencyCells = (latencies: number[]): string[] => [ms(percentile(latencies, 50), 1), ms(percentile(latencies, 95), 1), ms(percentile(latencies, 99), 1), ms(Math.max(...latencies), 1)];
        return {
          tables: [
            {
              title: `Signed push deliveries, paced (one every 1/rate s, open model), ${seconds} s per rate and server, to the answer`,
              columns: ["server", "rate", "sent", "2xx", "errors (non-2xx + socket)", "p50", "p95", "p99", "max", "server CPU per response", "generator's worst send lag"],
              rows: [...SERVERS.flatMap((who) => paced[who].map((r) => [SERVER_LABEL[who], r] as const)), ...(unbroken ? [[`${SERVER_LABEL.app}, ${seconds} s without a break`, unbroken] as const] : [])].map(
                ([label, r]) => [
                  label,
                  `${r.rate}/s`,
                  String(r.sent),
                  String(r.ok),
                  String(r.errors),
                  ...latencyCells(r.latencies),
                  `${Math.round(r.cpuPerResponseUs)} µs`,
                  ms(r.worstSendLagMs, 1),
                ],
              ),
            },
            {
              title: `The same deliveries as autocannon sends them at a rate (each second's requests back to back on its connections), ${seconds} s per rate and server`,
              columns: ["server", "rate", "connections", "responses", "2xx", "errors (non-2xx + socket)", "p50", "p95", "p99", "max", "server CPU per response"],
              rows: (["app", "floor"] as const).flatMap((who) =>
                bursts[who].map((r) => [
                  SERVER_LABEL[who],
                  `${r.rate}/s`,
                  String(autocannonConnections(r.rate)),
                  String(r.latencies.length),
                  String(r.ok),
                  String(r.errors),
                  ...latencyCells(r.latencies),
                  `${Math.round(r.cpuPerResponseUs)} µs`,
                ]),
              ),
            },
          ],
          goals,
          notes: [
            `The app runs as production runs it: compiled with tsconfig.build.json, \`node ${flags.join(" ")} dist/app/main.js\` (the Dockerfile's CMD), NODE_ENV=production, LOG_LEVEL and LOG_FORMAT unset (Probot's defaults there: info, JSON lines, written to a file), BUILDKIT_BOT_ROLE=web (no planner, no build worker; it sets its own V8 heap growth at start-up, src/app/role-heap.ts), against a private redis-server. The load generator runs in the bench process on the same 2 CPUs.`,
            `Each request: a real push payload (${template.length} bytes, from @octokit/webhooks-examples) with a random head sha, a fresh X-GitHub-Delivery id and its own X-Hub-Signature-256, all prepared before the slice starts.`,
            `Paced (the goals): bench/support/paced-load.ts sends request i at start + i/rate whether or not earlier ones were answered, over up to 64 keep-alive connections (undici). Latency = from the request's scheduled time to its answer's last byte, so a request that waited for a connection, or for the generator's own event loop (its worst send lag is in the table and falls on every server alike), is charged for the wait. Percentiles are nearest-rank over every answer of a server's slices. At 1000/s the app then takes one more stretch of ${seconds} s without a break (its own row): the goal's "sustained" is read on it, the p99 over the floor on the slices taken beside the floor.`,
            `Floor = a bare Node HTTP server (child process, reads the body, answers 202: no signature check, no Redis): what this machine and the generator give before the app does anything. The app's p99 is read against it. "Bare Node + one Redis write" is the floor plus a SET of the body on an auto-pipelined ioredis connection before the answer (bench/support/redis-floor-server.ts): what the round trip that makes a delivery durable costs here, before the app's own work. At each rate the three take turns in ${PACED_ORDER.length} slices of ${seconds / (PACED_ORDER.length / 3)} s (${PACED_ORDER.join(", ")}), so the machine's other load falls on all alike.`,
            `autocannon (second table, not the goals' measure): its rate is a per-connection count reset every second (autocannon 8, lib/httpClient.js), so at a rate R on C connections each second's R requests go out back to back, each connection sending its next request when the previous one is answered, then nothing until the next second. A response time there is the queue of a burst of C concurrent requests (about C × the server's time per request), not the latency at R/s; it shows how the app takes bursts.`,
            "A 3 s warm-up at 10/s ran first against each server and is discarded.",
            `The app's peak resident memory over the whole run, start-up included: ${peakRssMb.toFixed(0)} MB (the larger of VmRSS sampled every 500 ms and the kernel's VmHWM).`,
            "Server CPU per response = the server process's user + system CPU time (/proc/<pid>/stat) over the slices ÷ responses: unlike latency, it hardly moves when others load the machine. Paced requests each wake the server alone, so each pays the wake-up and socket work a burst shares.",
          ],
        };
      } finally {
        rss.stop();
        await app.stop();
      }
    } finally {
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
