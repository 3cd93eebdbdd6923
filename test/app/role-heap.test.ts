import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { roleHeapFlags } from "../../src/app/role-heap.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ROLE_HEAP = pathToFileURL(fileURLToPath(new URL("../../src/app/role-heap.ts", import.meta.url))).href;

/** The node flags of the Dockerfile's CMD, which every role starts with. */
function imageNodeFlags(): string[] {
  const cmd = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("CMD "))
    .at(-1);
  const argv = JSON.parse(cmd?.slice(4) ?? "[]") as string[];
  return argv.slice(1, -1);
}

/**
 * A webhook-like load in a fresh node started as the image starts it, with `role`'s flags applied: a 20 MB live
 * set, then 800 MB of small objects of which the last 2,000 batches stay reachable for a while (so they are
 * promoted, as deliveries in flight are). Prints how many full (mark-compact) GCs ran during the load.
 * `--single-threaded-gc` marks on the main thread, so the count follows the allocations alone: with V8's
 * concurrent marking it also follows how much CPU the marking threads got, and on a loaded machine a worker
 * counted 9 full GCs where it counts 21-28 when idle, and the web role 13-17.
 */
function fullGcsUnderLoad(role: string): number {
  const script = `
    import { PerformanceObserver, constants } from "node:perf_hooks";
    const { applyRoleHeapFlags } = await import(${JSON.stringify(ROLE_HEAP)});
    applyRoleHeapFlags(${JSON.stringify(role)});
    const live = Array.from({ length: 200_000 }, (_, i) => ({ i, name: "live-" + i, tags: [i, i + 1] }));
    let full = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++;
    });
    observer.observe({ entryTypes: ["gc"] });
    const recent = new Array(2_000);
    for (let n = 0; n < 800_000; n++) {
      recent[n % recent.length] = Array.from({ length: 8 }, (_, j) => ({ n, j, text: "delivery " + n + "/" + j }));
    }
    await new Promise((r) => setTimeout(r, 50));
    observer.disconnect();
    process.stdout.write(JSON.stringify({ full, live: live.length }));
  `;
  const r = spawnSync(process.execPath, [...imageNodeFlags(), "--single-threaded-gc", "--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { full: number }).full;
}

describe("the roles' heap settings", () => {
  it("only the web role loosens V8's heap growth", () => {
    assert.deepEqual(roleHeapFlags("worker"), []);
    assert.deepEqual(roleHeapFlags("all"), [], "all runs a worker, whose memory target needs the tight default");
    assert.deepEqual(roleHeapFlags("web"), ["--heap-growing-percent=200"]);
  });

  it("under the same load the web role runs fewer full GCs than a worker", { timeout: 240_000 }, () => {
    const worker = fullGcsUnderLoad("worker");
    const web = fullGcsUnderLoad("web");
    assert.ok(worker >= 10, `the load makes a worker collect its old generation often (${worker} full GCs)`);
    // 6 against 14, idle or loaded; at most two thirds.
    assert.ok(web * 3 <= worker * 2, `web ${web} full GCs, worker ${worker}`);
  });
});
