import { DEFAULT_CONFIG_LIMITS } from "../../../src/config/config-limits.js";
import { ConfigWorkerPool } from "../../../src/planner/config-worker-pool.js";
import { SLOW_64K_CONFIG } from "./slow-config.js";

/**
 * Run by config-worker-pool.test.ts as its own process: a pool does some work, is closed with a task still running,
 * and the process must then end by itself (no process.exit), which it cannot while a thread is left running.
 */
const pool = new ConfigWorkerPool({ size: 2 });
const outcome = (p: Promise<{ kind: string }>): Promise<string> => p.then((r) => r.kind, (e: Error) => e.message);
const first = await outcome(pool.interpret({ kind: "file", text: "images: [{name: app}]\n" }, "shop"));
const inFlight = outcome(pool.interpret({ kind: "file", text: SLOW_64K_CONFIG }, "shop", { ...DEFAULT_CONFIG_LIMITS, checkTimeMs: 600_000 }));
await pool.close();
const afterClose = await outcome(pool.interpret({ kind: "file", text: "images: [{name: app}]\n" }, "shop"));
console.log(JSON.stringify({ first, inFlight: await inFlight, afterClose }));
