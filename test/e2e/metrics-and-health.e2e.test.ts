import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { buildkitdDaemon } from "../support/daemons.js";
import { scrape, sampleSum } from "../support/metrics-text.js";
import type { MetricSample } from "../support/metrics-text.js";
import { prometheusSkip, startPrometheus } from "../support/prometheus.js";
import type { PrometheusInstance, Sample } from "../support/prometheus.js";
import { startBuildkitd } from "../support/stack/buildkitd.js";
import type { BuildkitdInstance } from "../support/stack/buildkitd.js";
import { testStack } from "../support/stack/env.js";
import { startE2E } from "./support/e2e-harness.js";
import type { E2E, E2ERepo } from "./support/e2e-harness.js";
import { eventually } from "./support/wait.js";

/**
 * Issue 18 points 1, 2 and 7: the app's metrics, health and readiness, on a web and a worker process building on
 * their own buildkitd (the only builder, so the test can take it away). Two pushes build; both roles' /metrics
 * move as they should; Debian's Prometheus scrapes both and answers PromQL about the builds; every query of the
 * shipped Grafana dashboard runs through it; headless Chromium takes a screenshot of its graph page (into the
 * test's dir, and to BKB_PROMETHEUS_SCREENSHOT when set: how docs/prometheus-graph.png is made). Last, readiness
 * when the only builder is down and when Redis is down.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DASHBOARD = join(REPO_ROOT, "deploy/grafana/buildkit-bot.json");
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 300_000;

const daemon = buildkitdDaemon();
const binary = testStack().buildkitdBinary;
const skip = daemon.skip || (binary ? false : "needs the buildkitd binary (BKB_TEST_BUILDKITD_BIN) to start a builder it can stop") || prometheusSkip();

interface Health {
  status: number;
  body: { status: string; checks?: Record<string, { ok: boolean; reason?: string }> };
}

async function health(url: string, path: "/healthz" | "/readyz"): Promise<Health> {
  const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Health["body"] };
}

function hostPort(url: string | undefined): string {
  assert.ok(url, "the process has an HTTP address");
  return new URL(url).host;
}

function valueOf(samples: readonly Sample[]): number {
  return samples.reduce((n, s) => n + Number(s.value[1]), 0);
}

describe("e2e: metrics, health and readiness, scraped by a real Prometheus", { skip, timeout: 1_200_000 }, () => {
  let e2e: E2E;
  let builderDir: string;
  let builder: BuildkitdInstance | undefined;
  let prometheus: PrometheusInstance | undefined;
  let repo: E2ERepo;
  const shas: string[] = [];
  const stamp = randomBytes(6).toString("hex");

  before(async () => {
    // Outside the e2e dir: the daemon's mounts must be gone before its dir is removed.
    builderDir = await mkdtemp(join(tmpdir(), "bkb-metrics-bkd-"));
    builder = await startBuildkitd({ dir: join(builderDir, "bkd"), binary: binary as string });
    const buildersFile = join(builderDir, "builders.yml");
    await writeFile(buildersFile, `health:\n  interval_seconds: 0.5\n  failures_before_unavailable: 1\nbuilders:\n  - name: solo\n    address: ${builder.address}\n`);
    e2e = await startE2E({ name: "metrics", daemon: { ...daemon, address: builder.address }, roles: "split", env: { BUILDKIT_BOT_BUILDERS_FILE: buildersFile } });
    // The test's own Redis client outlives the Redis it stops in the last test.
    e2e.redisClient.on("error", () => {});
    // Prometheus watches from before the first build, so its series show the builds arrive.
    const p = await startPrometheus({
      dir: join(e2e.dir, "prometheus"),
      targets: [
        { job: "buildkit-bot-web", address: hostPort(e2e.web.url) },
        { job: "buildkit-bot-worker", address: hostPort(e2e.worker.url) },
      ],
    });
    prometheus = p;
    await eventually(
      async () => {
        const targets = await p.targets();
        return targets.length === 2 && targets.every((t) => t.health === "up");
      },
      "both targets to be scraped",
      { describe: async () => JSON.stringify(await p.targets()) },
    );
  });

  after(async () => {
    await prometheus?.stop();
    await e2e?.close();
    await builder?.stop();
    if (builderDir) await rm(builderDir, { recursive: true, force: true });
  });

  it("two builds and three deliveries move the web's and the worker's metrics as they should, with no sha, name or secret in them", { timeout: TIMEOUT }, async () => {
    const web0 = await scrape(e2e.web.url as string);
    const worker0 = await scrape(e2e.worker.url as string);
    repo = await e2e.createRepo("measured", { "README.md": "hi\n" });
    const dockerfile = `FROM ${e2e.stack.baseImage}\nRUN echo ${stamp} > /a\nRUN cat /a /a > /b\n`;
    const pushes: Array<Record<string, string>> = [{ Dockerfile: dockerfile }, { "README.md": `changed ${stamp}\n` }];
    for (const files of pushes) {
      const { sha } = await e2e.push(repo, files);
      const run = await e2e.completedCheckRun(repo, sha, "buildkit-bot / measured", TIMEOUT);
      assert.equal(run.conclusion, "success", `${run.output.title}\n${run.output.summary}\n${run.output.text ?? ""}`);
      shas.push(sha);
    }
    // Refused deliveries: a bad signature on a push, and an event name nobody sends (counted as `other`).
    for (const event of ["push", "made_up_event"]) {
      const res = await fetch(`${e2e.web.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": randomBytes(8).toString("hex"), "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
        body: "{}",
      });
      assert.equal(res.status, 400, await res.text());
    }

    // The trail counts a build once its outcome is written, just after the check run completes; BullMQ marks the
    // job completed once the processor has returned.
    const worker = await eventually(
      async () => {
        const s = await scrape(e2e.worker.url as string);
        const built = sampleSum(s, "buildkit_bot_builds_total", { conclusion: "success" }) - sampleSum(worker0, "buildkit_bot_builds_total", { conclusion: "success" });
        return built >= 2 && sampleSum(s, "buildkit_bot_queue_jobs", { queue: "builds", state: "completed" }) >= 2 ? s : undefined;
      },
      "the worker to count two successful builds, and the queue two completed build jobs",
    );
    const web = await scrape(e2e.web.url as string);
    const moved = (after: MetricSample[], before: MetricSample[], name: string, labels: Record<string, string> = {}): number => sampleSum(after, name, labels) - sampleSum(before, name, labels);

    // The web role: deliveries by event and outcome, and their time to the answer.
    assert.equal(moved(web, web0, "buildkit_bot_webhook_deliveries_total", { event: "push", outcome: "accepted" }), 2);
    assert.equal(moved(web, web0, "buildkit_bot_webhook_deliveries_total", { event: "push", outcome: "refused" }), 1);
    assert.equal(moved(web, web0, "buildkit_bot_webhook_deliveries_total", { event: "other", outcome: "refused" }), 1);
    assert.equal(web.filter((s) => s.labels.event === "made_up_event").length, 0, "an unknown event name is never a label value");
    assert.equal(moved(web, web0, "buildkit_bot_webhook_ingest_seconds_count", { outcome: "accepted" }), 2);
    assert.ok(moved(web, web0, "buildkit_bot_webhook_ingest_seconds_sum", { outcome: "accepted" }) > 0);
    assert.equal(sampleSum(web, "buildkit_bot_info", { role: "web" }), 1);

    // The worker role: builds by conclusion, their times, steps and cache hits.
    assert.equal(moved(worker, worker0, "buildkit_bot_builds_total", { conclusion: "success" }), 2);
    assert.equal(moved(worker, worker0, "buildkit_bot_builds_total", { conclusion: "failure" }), 0);
    for (const phase of ["queue_wait", "solve", "push"]) {
      assert.equal(moved(worker, worker0, `buildkit_bot_build_${phase}_seconds_count`), 2, `${phase}: one observation per build`);
    }
    assert.ok(moved(worker, worker0, "buildkit_bot_build_push_seconds_sum") > 0, "the exporter's push took time");
    assert.ok(moved(worker, worker0, "buildkit_bot_build_solve_seconds_sum") > 0, "the solve took time");
    const steps = moved(worker, worker0, "buildkit_bot_build_steps_total");
    const cached = moved(worker, worker0, "buildkit_bot_build_cached_steps_total");
    assert.ok(steps >= 4, `two builds of at least two steps each, got ${steps}`);
    assert.ok(cached >= 2 && cached < steps, `the second build's RUN steps came from the cache: ${cached} of ${steps}`);
    const ratio = sampleSum(worker, "buildkit_bot_build_cache_hit_ratio");
    assert.ok(ratio > 0 && ratio < 1, `cache-hit ratio ${ratio}`);

    // GitHub: reads and writes (check runs, statuses), all answered 2xx by the fake GitHub; the budget was spent.
    assert.ok(moved(worker, worker0, "buildkit_bot_github_requests_total", { method: "GET", status: "2xx" }) > 0);
    assert.ok(moved(worker, worker0, "buildkit_bot_github_writes_total", { status: "2xx" }) >= 4, "check run and status writes");
    assert.equal(sampleSum(worker, "buildkit_bot_github_rate_limited_total"), 0);
    const limit = sampleSum(worker, "buildkit_bot_github_write_budget_limit", { window: "1m" });
    const left = sampleSum(worker, "buildkit_bot_github_write_budget_remaining", { window: "1m" });
    assert.ok(limit > 0 && left < limit, `writes in the last minute are counted against the budget: ${left} of ${limit} left`);
    assert.equal(sampleSum(worker, "buildkit_bot_github_write_pause_seconds"), 0);

    // Snapshots read at scrape time: the queues, the builder, the log store.
    assert.ok(sampleSum(worker, "buildkit_bot_queue_jobs", { queue: "builds", state: "completed" }) >= 2);
    assert.ok(sampleSum(worker, "buildkit_bot_queue_jobs", { queue: "events", state: "completed" }) >= 2);
    assert.equal(sampleSum(worker, "buildkit_bot_queue_jobs", { queue: "builds", state: "active" }), 0);
    assert.equal(sampleSum(worker, "buildkit_bot_builder_up", { builder: "solo" }), 1);
    assert.equal(sampleSum(worker, "buildkit_bot_builder_running_builds", { builder: "solo" }), 0);
    assert.equal(sampleSum(worker, "buildkit_bot_builder_failovers_total"), 0);
    assert.ok(sampleSum(worker, "buildkit_bot_log_store_logs") >= 2);
    assert.ok(sampleSum(worker, "buildkit_bot_log_store_bytes") > 0);
    for (const source of ["queues", "fairShare", "builders", "writeBudget", "logStore"]) {
      assert.equal(sampleSum(worker, "buildkit_bot_scrape_source_up", { source }), 1, `${source} answered`);
    }
    assert.ok(sampleSum(worker, "process_resident_memory_bytes") > 0, "Node's process metrics are there too");

    // Bounded labels only: no sha, repository, owner or secret anywhere.
    const text = `${await (await fetch(`${e2e.web.url}/metrics`)).text()}${await (await fetch(`${e2e.worker.url}/metrics`)).text()}`;
    for (const secret of [...shas, ...shas.map((s) => s.slice(0, 7)), "measured", e2e.owner, e2e.webhookSecret, e2e.privateKeyPem.split("\n")[1] as string, stamp]) {
      assert.ok(!text.includes(secret), `the metrics do not contain ${secret.slice(0, 12)}…`);
    }
  });

  it("Debian's Prometheus scrapes both roles, and PromQL through its HTTP API returns the builds that just ran", { timeout: TIMEOUT }, async () => {
    const p = prometheus as PrometheusInstance;
    const builds = await eventually(
      async () => {
        const r = await p.query('buildkit_bot_builds_total{conclusion="success"}');
        return r.resultType === "vector" && valueOf(r.result) === 2 ? r.result : undefined;
      },
      "the two builds in Prometheus",
    );
    assert.deepEqual(
      builds.map((s) => s.metric.job),
      ["buildkit-bot-worker"],
    );
    // Prometheus saw the counter at 0 before the builds, and each build move it: two changes in its window.
    const changes = await p.query('changes(buildkit_bot_builds_total{conclusion="success"}[15m])');
    assert.equal(changes.resultType === "vector" ? valueOf(changes.result) : NaN, 2, JSON.stringify(changes));
    const before = await p.query('min_over_time(buildkit_bot_builds_total{conclusion="success"}[15m])');
    assert.equal(before.resultType === "vector" ? valueOf(before.result) : NaN, 0);
    const pushes = await p.query('buildkit_bot_webhook_deliveries_total{event="push",outcome="accepted"}');
    assert.equal(pushes.resultType === "vector" ? valueOf(pushes.result) : NaN, 2);
    const solve = await p.query("histogram_quantile(0.5, sum by (le) (buildkit_bot_build_solve_seconds_bucket))");
    assert.ok(solve.resultType === "vector" && solve.result.length === 1 && Number(solve.result[0]?.value[1]) > 0, JSON.stringify(solve));
    const up = await p.query('buildkit_bot_builder_up{builder="solo"}');
    assert.equal(up.resultType === "vector" ? valueOf(up.result) : NaN, 1);
  });

  it("every query of the shipped Grafana dashboard runs through that Prometheus without an error", { timeout: TIMEOUT }, async () => {
    const p = prometheus;
    assert.ok(p, "Prometheus runs (the previous test)");
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as { panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>; templating?: { list: Array<{ name: string; query?: unknown }> } };
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr })));
    assert.ok(queries.length >= 12, `the dashboard has its queries (${queries.length})`);
    // What Grafana substitutes before it sends a query; `job` and `installation` as "All".
    const grafana = (expr: string): string =>
      expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__interval", "15s")
        .replaceAll("$__range", "5m")
        .replaceAll("$job", ".*")
        .replaceAll("$installation", ".*");
    const withData: string[] = [];
    const results: string[] = [];
    for (const { panel, expr } of queries) {
      const query = grafana(expr);
      assert.doesNotMatch(query, /\$/, `${panel}: every variable is substituted`);
      const instant = await p.query(query).catch((err: Error) => assert.fail(`${panel}: ${query}\n${err.message}`));
      await p.queryRange(query, 300, 5).catch((err: Error) => assert.fail(`${panel} (range): ${query}\n${err.message}`));
      if (instant.resultType === "vector" && instant.result.length > 0) withData.push(panel);
      results.push(`${panel}: ${query} → ${JSON.stringify(instant.result).slice(0, 200)}`);
    }
    for (const panel of ["Builds by conclusion", "Build queue wait, solve and push (p50)", "Cache-hit ratio", "Builder health", "Webhook deliveries"]) {
      assert.ok(withData.includes(panel), `${panel} shows data after the builds:\n${results.join("\n")}`);
    }
  });

  it("headless Chromium takes a screenshot of Prometheus' graph page showing the builds", { timeout: TIMEOUT }, async () => {
    const p = prometheus;
    assert.ok(p, "Prometheus runs");
    const profile = await mkdtemp(join(tmpdir(), "bkb-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 800 } });
    try {
      const page = await browser.newPage();
      const expr = "sum by (conclusion) (buildkit_bot_builds_total)";
      const query = new URLSearchParams({ "g0.expr": expr, "g0.tab": "0", "g0.range_input": "2m" });
      await page.goto(`${p.url}/graph?${query}`);
      // The classic UI Debian ships draws the graph with rickshaw into an svg; its legend names each series.
      await page.waitForSelector(".graph_area svg path", { state: "attached", timeout: 30_000 });
      await page.locator(".legend").waitFor({ timeout: 30_000 });
      const legend = await page.locator(".legend").innerText();
      assert.match(legend, /conclusion="success"/, `the legend lists the successful builds:\n${legend}`);
      const shots = process.env.BKB_E2E_SCREENSHOTS ?? join(e2e.dir, "screenshots");
      await mkdir(shots, { recursive: true });
      const file = join(shots, "prometheus-graph.png");
      await page.screenshot({ path: file, fullPage: true });
      assert.ok((await stat(file)).size > 10_000, "the screenshot has content");
      const keep = process.env.BKB_PROMETHEUS_SCREENSHOT;
      if (keep) await copyFile(file, resolve(REPO_ROOT, keep));
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
  });

  it("readiness: a worker whose only builder is down is not ready while the web role is; with Redis down neither is; liveness holds throughout", { timeout: TIMEOUT }, async () => {
    const web = e2e.web.url as string;
    const worker = e2e.worker.url as string;
    for (const url of [web, worker]) {
      assert.equal((await health(url, "/healthz")).status, 200);
      const ready = await health(url, "/readyz");
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.equal(ready.body.checks?.redis?.ok, true);
    }
    assert.equal((await health(worker, "/readyz")).body.checks?.builders?.ok, true);
    assert.equal((await health(web, "/readyz")).body.checks?.builders, undefined, "the web role needs no builder");

    await builder?.stop();
    builder = undefined;
    const noBuilder = await eventually(
      async () => {
        const r = await health(worker, "/readyz");
        return r.status === 503 ? r : undefined;
      },
      "the worker to be not ready without its builder",
    );
    assert.equal(noBuilder.body.checks?.builders?.ok, false);
    assert.match(noBuilder.body.checks?.builders?.reason ?? "", /no builder is available \(solo\)/);
    assert.equal(noBuilder.body.checks?.redis?.ok, true);
    assert.equal((await health(worker, "/healthz")).status, 200, "the worker is alive");
    assert.equal((await health(web, "/readyz")).status, 200, "the web role is still ready");
    // The scrape reads the pool's snapshot at most once per SOURCE_MEMO_MS: one made before the probe may serve once more.
    await eventually(async () => sampleSum(await scrape(worker), "buildkit_bot_builder_up", { builder: "solo" }) === 0, "builder_up to say the builder is down");

    await e2e.redis.stop();
    for (const url of [web, worker]) {
      const down = await eventually(
        async () => {
          const r = await health(url, "/readyz");
          return r.status === 503 && r.body.checks?.redis?.ok === false ? r : undefined;
        },
        `${url} to be not ready without Redis`,
      );
      assert.ok(down.body.checks?.redis?.reason, "says why");
      assert.equal((await health(url, "/healthz")).status, 200, "alive without Redis");
      // A read made just before Redis went (Prometheus scrapes every second) may serve one more scrape.
      await eventually(async () => sampleSum(await scrape(url), "buildkit_bot_scrape_source_up", { source: "queues" }) === 0, `${url}/metrics to answer without the queue counts`);
    }

    await e2e.redis.restart();
    await eventually(async () => (await health(web, "/readyz")).status === 200, "the web role to be ready again once Redis is back");
  });
});
