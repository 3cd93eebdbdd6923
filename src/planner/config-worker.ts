import { parentPort, workerData } from "node:worker_threads";
import { usePrecompiledRepoConfigValidator } from "../config/index.js";
import type { ConfigLimits, RepoConfigValidatorOrigin } from "../config/index.js";
import { runConfigTask, warmUpConfigTasks } from "./config-task.js";
import type { ConfigTask } from "./config-task.js";

/**
 * Entry of a ConfigWorkerPool thread: runs one ConfigTask per message and answers with its outcome. Before it says
 * it is ready it loads the schema's precompiled validator (when it is up to date; else the schema is compiled here)
 * and reads a tiny config with the pool's limits and applies it to a push, so module loading and the first calls'
 * compiling are not counted against the first real config's time limit, nor waited for by the first push's build.
 */
export interface ConfigWorkerData {
  limits: ConfigLimits;
}

export type ToConfigWorker = { id: number; task: ConfigTask };
/** `validator`: whether the schema's validator is the precompiled one (usePrecompiledRepoConfigValidator). */
export type FromConfigWorker = { type: "ready"; validator: RepoConfigValidatorOrigin } | ({ type: "outcome"; id: number } & ReturnType<typeof runConfigTask>);

const port = parentPort;
if (!port) throw new Error("config-worker runs only as a worker thread (see config-worker-pool.ts)");
const { limits } = workerData as ConfigWorkerData;

const validator = await usePrecompiledRepoConfigValidator();
warmUpConfigTasks(limits);
port.on("message", (message: ToConfigWorker) => {
  const reply: FromConfigWorker = { type: "outcome", id: message.id, ...runConfigTask(message.task) };
  port.postMessage(reply);
});
port.postMessage({ type: "ready", validator } satisfies FromConfigWorker);
