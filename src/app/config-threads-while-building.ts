import type { BuildProcessor } from "../queue/index.js";

/** The part of ConfigWorkerPool a build worker drives. */
export interface WarmConfigThreads {
  keepWarm(on: boolean): void;
}

/**
 * `processor`, telling the config check threads not to keep a fresh thread ready while this process runs at least one
 * build (about 15 MB held through the whole build, beside a log stream that may peak at tens of MB: BENCHMARKS.md,
 * item 5), and to have one ready again once the last build has ended. A push arriving meanwhile waits for a thread
 * to start (about 100 ms); one arriving at an idle worker, as the build-start goal measures, does not.
 */
export function releaseConfigThreadsWhileBuilding(processor: BuildProcessor, threads: WarmConfigThreads): BuildProcessor {
  let running = 0;
  return async (job, signal, slot) => {
    if (running++ === 0) threads.keepWarm(false);
    try {
      return await processor(job, signal, slot);
    } finally {
      if (--running === 0) threads.keepWarm(true);
    }
  };
}
