import { startBuildkitBot } from "../../../src/app/start-app.js";
import { captureLog, webEnv } from "../app-test-kit.js";

/**
 * Run by app-stop.int.test.ts as its own process: the app in the worker role (planner wired, so its config threads
 * start) is started and stopped, and the process must then end by itself; nothing here calls process.exit.
 */
const [redisUrl, prefix] = process.argv.slice(2);
if (!redisUrl || !prefix) throw new Error("usage: stop-child.ts REDIS_URL PREFIX");
const { env } = await webEnv(redisUrl, prefix);
const log = captureLog();
const app = await startBuildkitBot({ planner: () => async () => {} }, { ...env, BUILDKIT_BOT_ROLE: "worker" }, { log: log.logger });
const started = log.lines.find((l) => l.msg === "config check threads started");
console.log(JSON.stringify({ mode: app.mode, threads: started?.threads }));
await app.stop();
console.log("stopped");
