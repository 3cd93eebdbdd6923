import type { Redis } from "ioredis";
import type { Probot } from "probot";
import { OctokitPlannerCheckRuns } from "../github/index.js";
import type { PlannerCheckRuns } from "../github/index.js";
import type { CancelUnder, EnqueueBuild, WithdrawBuild, EventProcessor, EventJob, QueueLog } from "../queue/index.js";
import { runPlannerJob } from "./planner-job.js";
import type { PlannerDeps } from "./planner-job.js";

export interface PlannerProcessorOptions {
  /** Authenticated as the App; each job gets its installation's Octokit from it. */
  probot: Pick<Probot, "auth">;
  redis: Redis;
  enqueueBuild: EnqueueBuild;
  withdrawBuild: WithdrawBuild;
  cancelUnder?: CancelUnder;
  config: PlannerDeps["config"];
  log?: QueueLog;
  keyPrefix?: string;
  /** The check-run writer; default: direct Octokit calls (`OctokitPlannerCheckRuns`). */
  checkRuns?: (octokit: PlannerDeps["octokit"], job: EventJob) => PlannerCheckRuns;
  clock?: PlannerDeps["clock"];
  settleSlot?: PlannerDeps["settleSlot"];
  /** Where configs are read and applied (the app's ConfigWorkerPool); default: the event worker's thread. */
  configWork?: PlannerDeps["configWork"];
}

/** The event worker's processor: `runPlannerJob` with an installation Octokit per job. */
export function plannerProcessor(opts: PlannerProcessorOptions): EventProcessor {
  return async (job) => {
    const octokit = await opts.probot.auth(job.repository.installationId);
    await runPlannerJob(job, {
      octokit,
      redis: opts.redis,
      enqueueBuild: opts.enqueueBuild,
      withdrawBuild: opts.withdrawBuild,
      ...(opts.cancelUnder ? { cancelUnder: opts.cancelUnder } : {}),
      config: opts.config,
      clock: opts.clock ?? { now: () => new Date() },
      checkRuns: opts.checkRuns ? opts.checkRuns(octokit, job) : new OctokitPlannerCheckRuns(octokit),
      ...(opts.keyPrefix !== undefined ? { keyPrefix: opts.keyPrefix } : {}),
      ...(opts.settleSlot ? { settleSlot: opts.settleSlot } : {}),
      ...(opts.configWork ? { configWork: opts.configWork } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
  };
}
