import type { Job, JobState, Queue } from "bullmq";

/**
 * The job `id` when it is in one of `states`, else undefined. The state is read first and the job after it:
 * a job fetched before its state is read may be a snapshot from an earlier attempt (attemptsMade, failedReason
 * and returnvalue of the moment it was fetched), while a final state no longer changes.
 */
export async function jobInState(queue: Queue, id: string, states: readonly (JobState | "unknown")[]): Promise<Job | undefined> {
  const state = await queue.getJobState(id);
  if (!states.includes(state)) return undefined;
  return (await queue.getJob(id)) ?? undefined;
}
