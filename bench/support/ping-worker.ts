import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { PingLoop } from "../../test/e2e/support/ping-loop.js";
import type { PingSample } from "../../test/e2e/support/ping-loop.js";

/**
 * The ping loop (test/e2e/support/ping-loop.ts) on a worker thread of its own, so the bench's main thread (the
 * fake GitHub, the bodies it streams) does not delay the pings' sends or the reading of their answers.
 */

interface PingWorkerData {
  hookUrl: string;
  secret: string;
  intervalMs: number;
}

export interface PingWorker {
  /** Stops sending, waits for the pings in flight, and resolves every sample. */
  stop(): Promise<PingSample[]>;
}

export async function startPingWorker(hookUrl: string, secret: string, intervalMs = 50): Promise<PingWorker> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { hookUrl, secret, intervalMs } satisfies PingWorkerData });
  await new Promise<void>((ok, fail) => {
    worker.once("message", () => ok());
    worker.once("error", fail);
  });
  return {
    async stop() {
      const samples = new Promise<PingSample[]>((ok, fail) => {
        worker.once("message", (m: PingSample[]) => ok(m));
        worker.once("error", fail);
      });
      worker.postMessage("stop");
      const result = await samples;
      await worker.terminate();
      return result;
    },
  };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const data = workerData as PingWorkerData;
  const loop = new PingLoop(data.hookUrl, data.secret, data.intervalMs);
  loop.start();
  port.postMessage("started");
  port.once("message", () => {
    void loop.stop().then((samples) => port.postMessage(samples));
  });
}
