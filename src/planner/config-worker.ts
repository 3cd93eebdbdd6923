import { parentPort, workerData } from "node:worker_threads";
import type { ConfigLimits } from "../config/index.js";
import { runConfigTask } from "./config-task.js";
import type { ConfigTask } from "./config-task.js";

/**
 * Entry of a ConfigWorkerPool thread: runs one ConfigTask per message and answers with its outcome. Before it says
 * it is ready it checks a tiny config with the pool's limits, so module loading and the schema's compilation are
 * not counted against the first real config's time limit.
 */
export interface ConfigWorkerData {
  limits: ConfigLimits;
}

export type ToConfigWorker = { id: number; task: ConfigTask };
export type FromConfigWorker = { type: "ready" } | ({ type: "outcome"; id: number } & ReturnType<typeof runConfigTask>);

const port = parentPort;
if (!port) throw new Error("config-worker runs only as a worker thread (see config-worker-pool.ts)");
const { limits } = workerData as ConfigWorkerData;

runConfigTask({ kind: "interpret", source: { kind: "file", text: "images: [{name: warm-up}]\n" }, repoName: "warm-up", limits });
port.on("message", (message: ToConfigWorker) => {
  const reply: FromConfigWorker = { type: "outcome", id: message.id, ...runConfigTask(message.task) };
  port.postMessage(reply);
});
port.postMessage({ type: "ready" } satisfies FromConfigWorker);
