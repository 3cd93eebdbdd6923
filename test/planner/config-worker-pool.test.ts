import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, REPO_CONFIG_PATH } from "../../src/config/config-error.js";
import { ConfigLimitsError, DEFAULT_CONFIG_LIMITS, parseConfigLimits } from "../../src/config/config-limits.js";
import type { ConfigLimits } from "../../src/config/config-limits.js";
import { parseRepoConfig } from "../../src/config/parse-repo-config.js";
import type { RepoConfig } from "../../src/config/repo-config.js";
import type { ConfigSource } from "../../src/planner/config-source-memo.js";
import { inThreadConfigWork } from "../../src/planner/config-work.js";
import { ConfigWorkerPool } from "../../src/planner/config-worker-pool.js";
import type { LoadedRepoConfig } from "../../src/planner/load-repo-config.js";
import { planImages } from "../../src/planner/plan.js";
import type { PlanInput } from "../../src/planner/plan.js";
import type { PlanTarget } from "../../src/planner/plan-target.js";
import { HOSTILE_INPUTS } from "../config/hostile-inputs.js";
import { SLOW_64K_CONFIG, slowPlanInput } from "./support/slow-config.js";

const fixtures = new URL("../fixtures/config/", import.meta.url);
const fixtureTexts = (kind: "valid" | "invalid"): Array<[string, string]> =>
  readdirSync(new URL(`${kind}/`, fixtures))
    .sort()
    .map((name) => [`${kind}/${name}`, readFileSync(new URL(`${kind}/${name}`, fixtures), "utf8")]);

const file = (text: string): ConfigSource => ({ kind: "file", text });
const limitsWith = (extra: Partial<ConfigLimits>): ConfigLimits => ({ ...DEFAULT_CONFIG_LIMITS, ...extra });

/** Everything a LoadedRepoConfig says, a ConfigError by its own fields (its stack differs between threads). */
function comparable(loaded: LoadedRepoConfig): unknown {
  if (loaded.kind !== "invalid") return loaded;
  const e = loaded.error;
  assert.ok(e instanceof ConfigError, "a ConfigError on this side of the thread boundary");
  return { kind: "invalid", name: e.name, code: e.code, message: e.message, path: e.path, line: e.line, column: e.column, issues: e.issues };
}

function limitIssue(loaded: LoadedRepoConfig): { line: number; column: number; message: string } {
  assert.equal(loaded.kind, "invalid");
  const issues = loaded.kind === "invalid" ? loaded.error.issues : [];
  assert.equal(issues.length, 1);
  const { line, column, message, path } = issues[0]!;
  assert.equal(path, REPO_CONFIG_PATH);
  return { line, column, message };
}

describe("ConfigWorkerPool", () => {
  const pool = new ConfigWorkerPool({ size: 2 });
  before(() => pool.start());
  after(() => pool.close());

  it("reads every fixture and hostile config exactly as the planner's own thread does", async () => {
    const sources: Array<[string, ConfigSource]> = [
      ...[...fixtureTexts("valid"), ...fixtureTexts("invalid")].map(([n, t]): [string, ConfigSource] => [n, file(t)]),
      ...HOSTILE_INPUTS.map((h): [string, ConfigSource] => [h.name, file(h.text)]),
      ["root Dockerfile", { kind: "root-dockerfile" }],
      ["nothing", { kind: "none" }],
    ];
    const here = inThreadConfigWork();
    let invalid = 0;
    for (const [name, source] of sources) {
      const isolated = await pool.interpret(source, "shop");
      assert.deepEqual(comparable(isolated), comparable(await here.interpret(source, "shop")), name);
      if (isolated.kind === "invalid") invalid++;
    }
    assert.equal(invalid, fixtureTexts("invalid").length + HOSTILE_INPUTS.length, "every invalid and hostile config came back as a ConfigError");
  });

  it("rebuilds a ConfigError with its issues, lines and columns", async () => {
    const loaded = await pool.interpret(file("images:\n  - name: app\n    platforms: [linux/amd64, linux/amd64]\n  - name: 7\n"), "shop");
    assert.equal(loaded.kind, "invalid");
    const err = loaded.kind === "invalid" ? loaded.error : undefined;
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, "REPO_CONFIG_INVALID");
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.column, i.message.slice(0, 30)]),
      [
        [3, 30, 'images[0].platforms[1]: "linux'],
        [4, 11, "images[1].name: must be a stri"],
      ],
    );
    assert.equal(err.line, 3);
    assert.match(err.message, /\(and 1 more\)$/);
  });

  it("applies a config to an event (path filters, tags, skips) exactly as the planner's own thread does", async () => {
    const config = parseRepoConfig(readFileSync(new URL("valid/full.yml", fixtures), "utf8"));
    const targets: PlanTarget[] = [
      { kind: "branch", branch: "main" },
      { kind: "branch", branch: "feature/x", pullRequest: { number: 4, baseRef: "main" } },
      { kind: "tag", tag: "v1.2.3" },
      { kind: "pull_request", number: 9, baseRef: "main", fork: true },
    ];
    const changed = [undefined, ["services/api/main.go"], ["docs/readme.md"], ["web/index.html", "services/api/x.md"]];
    const kinds = new Set<string>();
    for (const target of targets) {
      for (const changedFiles of changed) {
        const input: PlanInput = {
          target,
          sha: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
          owner: "Acme",
          repoName: "shop",
          defaultBranch: "main",
          config,
          registryPrefix: "127.0.0.1:5000",
          latestAllowed: true,
          branchCheck: "main",
          ...(changedFiles ? { changedFiles } : {}),
        };
        const isolated = await pool.plan(input);
        assert.deepEqual(isolated, planImages(input), JSON.stringify({ target, changedFiles }));
        for (const d of isolated) kinds.add(`${d.kind}${d.kind === "build" && d.matchedFiles ? " filtered" : ""}${d.kind === "build" && d.plan.push ? " pushed" : ""}`);
      }
    }
    assert.deepEqual([...kinds].sort(), ["build", "build filtered", "build filtered pushed", "build pushed", "skip"]);
  });

  it("keeps the event loop ticking while a slow config is checked", async () => {
    // The same check on this thread holds every timer back until it is done: the control.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const here = await inThreadConfigWork().interpret(file(SLOW_64K_CONFIG), "shop");
      const ticksHere = ticks;
      ticks = 0;
      // A loaded machine can take longer than the default checkTimeMs over this config; the limit is not what this tests.
      const isolated = await pool.interpret(file(SLOW_64K_CONFIG), "shop", limitsWith({ checkTimeMs: 120_000 }));
      const ticksIsolated = ticks;
      assert.deepEqual(comparable(isolated), comparable(here));
      assert.match(limitIssue(isolated).message, /^unknown key "x"/);
      assert.equal(ticksHere, 0, "on this thread, no timer fires during the check");
      assert.ok(ticksIsolated >= 1, "in the pool, the timer fired while the config was being checked");
    } finally {
      clearInterval(timer);
    }
  });
});

describe("ConfigWorkerPool limits", () => {
  it("a config over the time limit fails its check naming checkTimeMs, and the next one is read on a fresh thread", async () => {
    const pool = new ConfigWorkerPool({ size: 1 });
    try {
      await pool.start();
      const over = await pool.interpret(file(SLOW_64K_CONFIG), "shop", limitsWith({ checkTimeMs: 5 }));
      assert.deepEqual(limitIssue(over), { line: 1, column: 1, message: "the config took longer than 5 ms to check (limit checkTimeMs = 5)" });
      assert.equal(pool.stats().overTime, 1);

      const next = await pool.interpret(file("images: [{name: app}]\n"), "shop");
      assert.equal(next.kind, "config");
      assert.equal(next.kind === "config" ? next.config.images[0]!.name : "", "app");
      assert.deepEqual(pool.stats(), { started: 2, overTime: 1, overMemory: 0, crashed: 0 });
    } finally {
      await pool.close();
    }
  });

  it("path filtering over the time limit is a ConfigError too (seconds of glob matching, stopped)", async () => {
    const pool = new ConfigWorkerPool({ size: 1 });
    try {
      await pool.start();
      await assert.rejects(
        pool.plan(slowPlanInput(), limitsWith({ checkTimeMs: 100 })),
        (e: unknown) =>
          e instanceof ConfigError && e.line === 1 && e.issues.length === 1 && e.issues[0]!.message === "the config took longer than 100 ms to check (limit checkTimeMs = 100)",
      );
      const small: RepoConfig = parseRepoConfig("images: [{name: app, paths: ['src/**']}]\n");
      const decisions = await pool.plan({ ...slowPlanInput(), config: small, changedFiles: ["src/a.ts", "docs/b.md"] });
      assert.deepEqual(
        decisions.map((d) => (d.kind === "build" ? d.matchedFiles : d.reason)),
        [["src/a.ts"]],
      );
      assert.equal(pool.stats().started, 2);
    } finally {
      await pool.close();
    }
  });

  it("a config over the memory limit fails its check naming checkMemoryMb, and the pool recovers", async () => {
    // The size limit raised so a 1 MB document is allowed: parsed, it needs far more than 32 MB of heap.
    const limits = limitsWith({ fileBytes: 8 * 1024 * 1024, checkMemoryMb: 32, checkTimeMs: 120_000 });
    const pool = new ConfigWorkerPool({ size: 1, limits });
    try {
      await pool.start();
      const big = `images: [{name: app}]\nx: [${"a,".repeat(512 * 1024)}a]\n`;
      const over = await pool.interpret(file(big), "shop");
      assert.deepEqual(limitIssue(over), { line: 1, column: 1, message: "the config took more than 32 MB of memory to check (limit checkMemoryMb = 32)" });
      assert.equal(pool.stats().overMemory, 1);

      const next = await pool.interpret(file("images: [{name: app}]\n"), "shop");
      assert.equal(next.kind, "config");
      assert.deepEqual(pool.stats(), { started: 2, overTime: 0, overMemory: 1, crashed: 0 });
    } finally {
      await pool.close();
    }
  });

  it("checkMemoryMb below what a thread needs to start is refused when the limits are read", () => {
    assert.throws(() => parseConfigLimits("checkMemoryMb=8"), (e: unknown) => e instanceof ConfigLimitsError && /checkMemoryMb must be a whole number from 16 to/.test(e.message));
    assert.deepEqual(parseConfigLimits("checkTimeMs=500,checkMemoryMb=64"), limitsWith({ checkTimeMs: 500, checkMemoryMb: 64 }));
  });

  it("after close, nothing of the pool keeps the process alive (a child process ends by itself)", { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./support/pool-lifecycle-child.ts", import.meta.url))], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    assert.equal(signal, null, `the child was still running 90 s later (a thread kept it alive):\n${output}`);
    assert.equal(code, 0, output);
    assert.deepEqual(JSON.parse(output.trim().split("\n").at(-1)!), { first: "config", inFlight: "the config worker pool is closed", afterClose: "the config worker pool is closed" });
  });
});

describe("ConfigWorkerPool with idleMs", () => {
  async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check()) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return check();
  }

  it("replaces a thread that checked a config, once idle, with a fresh one", async () => {
    const pool = new ConfigWorkerPool({ size: 1, idleMs: 50 });
    try {
      await pool.start();
      await pool.interpret(file("images:\n  - name: app\n"), "shop");
      assert.ok(await waitFor(() => pool.stats().started === 2, 10_000), "the used thread was not replaced");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.liveThreads, 1);
      assert.equal(pool.stats().started, 2, "the fresh thread was stopped and replaced again");
    } finally {
      await pool.close();
    }
  });

  it("keepWarm(false) stops the fresh thread and replaces none; work still gets a thread; keepWarm(true) starts a fresh one", async () => {
    const pool = new ConfigWorkerPool({ size: 2, idleMs: 50 });
    try {
      await pool.start();
      assert.equal(pool.liveThreads, 1);
      pool.keepWarm(false);
      assert.equal(pool.liveThreads, 0, "the fresh thread, idle, was stopped at once");
      const text = "images:\n  - name: app\n";
      assert.deepEqual(comparable(await pool.interpret(file(text), "shop")), comparable(await inThreadConfigWork().interpret(file(text), "shop")));
      assert.equal(pool.stats().started, 2, "a thread was started for the work");
      assert.ok(await waitFor(() => pool.liveThreads === 0, 10_000), "the used thread was not stopped once idle");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.liveThreads, 0, "a fresh thread was started while not kept warm");
      assert.equal(pool.stats().started, 2);
      pool.keepWarm(true);
      assert.equal(pool.liveThreads, 1, "keepWarm(true) started a fresh thread");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.liveThreads, 1, "the fresh thread is kept");
      assert.equal(pool.stats().started, 3);
      assert.deepEqual({ ...pool.stats(), started: 0 }, { started: 0, overTime: 0, overMemory: 0, crashed: 0 });
    } finally {
      await pool.close();
    }
  });

  it("keepWarm(false) while a thread is still starting lets it go once it has been idle", async () => {
    const pool = new ConfigWorkerPool({ size: 1, idleMs: 50 });
    try {
      const started = pool.start();
      pool.keepWarm(false);
      await started;
      assert.ok(await waitFor(() => pool.liveThreads === 0, 10_000), "the fresh thread was kept");
      assert.equal(pool.stats().started, 1);
    } finally {
      await pool.close();
    }
  });

  it("keeps one fresh thread ready, stops threads that checked a config once idle, and replaces the last with a fresh one", async () => {
    const pool = new ConfigWorkerPool({ size: 2, idleMs: 50 });
    try {
      await pool.start();
      assert.equal(pool.stats().started, 1, "start() started one thread");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.liveThreads, 1, "the fresh thread, which has checked nothing, was stopped");
      const text = "images:\n  - name: app\n";
      const [a, b] = await Promise.all([pool.interpret(file(text), "shop"), pool.interpret(file(text), "shop")]);
      assert.deepEqual(comparable(a), comparable(await inThreadConfigWork().interpret(file(text), "shop")));
      assert.deepEqual(comparable(b), comparable(a));
      assert.equal(pool.stats().started, 2, "the warm thread took one task and a second thread was started for the other");
      // Either the second thread took a task (then both are used, and the last one stopped is replaced by a fresh one)
      // or the warm thread took both (then the second, which checked nothing, is the one kept).
      assert.ok(await waitFor(() => pool.liveThreads === 1, 10_000), "the used threads were not stopped");
      assert.ok([2, 3].includes(pool.stats().started), `started ${pool.stats().started}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.liveThreads, 1, "the fresh replacement was stopped");
      assert.deepEqual({ ...pool.stats(), started: 0 }, { started: 0, overTime: 0, overMemory: 0, crashed: 0 });
    } finally {
      await pool.close();
    }
  });
});
