import type { Queue } from "bullmq";
import { checkRunName } from "../github/index.js";
import type { OctokitRequest, WriteBudget } from "../github/index.js";
import { buildJobId } from "../queue/index.js";
import type { BuildAttempts, BuildJob, CheckRunHandoff, CheckRunLedger, EventJob, PlannerLookup, RunSlot } from "../queue/index.js";
import { checkRunTrail } from "../trail/index.js";
import type { InFlightBuilds } from "../trail/index.js";

/** Job states in which a job will still run (or is running). */
const LIVE = new Set(["active", "waiting", "delayed", "prioritized", "waiting-children", "paused"]);
const MAX_PAGES = 5;

/** One build ever queued for a slot: its state (undefined when BullMQ no longer has it) and the run its job holds. */
export interface SlotBuild {
  buildId: string;
  state: string | undefined;
  checkRunId?: number;
}

export interface OrphanedRunDeps {
  /** Our GitHub App's id: only our own check runs are looked at. */
  appId: number;
  ledger: CheckRunLedger;
  handoff: CheckRunHandoff;
  inFlight: InFlightBuilds;
  budget: WriteBudget;
  /** The installation's `request`. */
  request(installationId: number): Promise<OctokitRequest>;
  planner: PlannerLookup;
  /** Every build queued for the slot, whatever its state. */
  builds(slot: RunSlot): Promise<SlotBuild[]>;
}

export type SettleResult =
  | { kind: "busy" }
  | {
      kind: "settled";
      /** Check runs concluded by this call. */
      concluded: number[];
      /** Another build of the slot has reported, or will report, the commit status. */
      replaced: boolean;
      /** Nothing is left to watch: the slot was struck from the ledger. */
      done: boolean;
    };

interface ListedRun {
  id: number;
  status: string;
  app?: { id?: number } | null;
  name?: string;
}

/**
 * Concludes the check runs of one slot (a commit's image) that no build will ever report on: our runs still
 * `queued` or `in_progress` that no live build holds (in its job or through the handoff), once no planning of the
 * slot is running any more. Such a run was created by a planning attempt that Redis (or the planner) lost before
 * it could hand the run to its build. A run whose build failed for good without reporting is left to the
 * in-flight reconciler, which says why the build ended.
 *
 * The runs are listed before the planners and builds are looked at: a run listed was created after its planner
 * had noted the slot, so a planning still at work on it is seen, and a hand-over made meanwhile is seen too.
 *
 * `exceptPlanner` / `exceptBuild`: the caller itself (a planner at the end of a retried attempt, a build giving
 * itself up), which counts as finished.
 */
export async function settleSlot(slot: RunSlot, deps: OrphanedRunDeps, opts: { exceptPlanner?: string; exceptBuild?: string } = {}): Promise<SettleResult> {
  const request = await deps.request(slot.installationId);
  const runs = await listOurRuns(request, slot, deps.appId);

  const entry = await deps.ledger.entry(slot);
  for (const plannerId of entry?.planners ?? []) {
    if (plannerId === opts.exceptPlanner) continue;
    const state = (await deps.planner(plannerId))?.state;
    if (state !== undefined && LIVE.has(state)) return { kind: "busy" };
  }

  const held = new Map<number, string>();
  let liveBuilds = 0;
  let replaced = false;
  for (const build of await deps.builds(slot)) {
    if (build.buildId === opts.exceptBuild) continue;
    const live = build.state !== undefined && LIVE.has(build.state);
    // A build that failed for good without reporting is the in-flight reconciler's, with its own reason.
    const unreported = !live && build.state !== "completed" && (await deps.inFlight.get(build.buildId)) !== undefined;
    if (live) liveBuilds++;
    if (live || unreported || build.state === "completed") replaced = true;
    if (!live && !unreported) continue;
    const runId = build.checkRunId ?? (await runOfHandoff(deps.handoff, build.buildId));
    if (runId !== undefined) held.set(runId, build.buildId);
  }

  const open = runs.filter((r) => r.status !== "completed");
  const orphans = open.filter((r) => !held.has(r.id));
  const concluded: number[] = [];
  const replacement = runs
    .filter((r) => !orphans.includes(r))
    .map((r) => r.id)
    .sort((a, b) => b - a)[0];
  for (const run of orphans) {
    await concludeOrphan(request, deps.budget, slot, run.id, replaced ? replacement : undefined);
    concluded.push(run.id);
  }
  const done = liveBuilds === 0 && open.length === orphans.length;
  if (done) await deps.ledger.remove(slot);
  return { kind: "settled", concluded, replaced, done };
}

/** One pass over every slot of the ledger; returns the check runs it concluded. */
export async function reconcileOrphanedCheckRuns(
  deps: OrphanedRunDeps,
  onError?: (slot: RunSlot, err: unknown) => void,
): Promise<number[]> {
  const concluded: number[] = [];
  for (const { slot } of await deps.ledger.list()) {
    try {
      const result = await settleSlot(slot, deps);
      if (result.kind === "settled") concluded.push(...result.concluded);
    } catch (err) {
      onError?.(slot, err);
    }
  }
  return concluded;
}

async function runOfHandoff(handoff: CheckRunHandoff, buildId: string): Promise<number | undefined> {
  const state = await handoff.read(buildId);
  return state.kind === "created" ? state.checkRunId : undefined;
}

/** Our runs of the slot, any status (`filter=all`: GitHub's default lists only the latest run of each name). */
async function listOurRuns(request: OctokitRequest, slot: RunSlot, appId: number): Promise<ListedRun[]> {
  const name = checkRunName(slot.image);
  const out: ListedRun[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const { data } = await request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      owner: slot.owner,
      repo: slot.repo,
      ref: slot.sha,
      check_name: name,
      app_id: appId,
      filter: "all",
      per_page: 100,
      page,
    });
    for (const r of data.check_runs) if (r.app?.id === appId && r.name === name) out.push({ id: Number(r.id), status: r.status, app: r.app, name: r.name });
    if (data.check_runs.length < 100) break;
  }
  return out;
}

/**
 * With a replacement, the run is cancelled pointing at it, and the commit status is left to the replacement's
 * build. Without one, nothing else will report this image: the run fails, the status with it.
 */
async function concludeOrphan(request: OctokitRequest, budget: WriteBudget, slot: RunSlot, checkRunId: number, replacement: number | undefined): Promise<void> {
  const lost = "its build was lost when the app's queue (Redis) failed while the build was being planned";
  const trail = checkRunTrail({ request, budget }, slot, checkRunId);
  if (replacement === undefined) {
    await trail.failed(new Error(`Not built: ${lost}, and nothing else is building this image. Use "Rebuild" to try again.`));
  } else {
    await trail.cancelled(`${lost}; check run ${replacement} reports this image instead`, { statusReportedElsewhere: true });
  }
}

/** `OrphanedRunDeps.planner` from the event queue. */
export function plannerLookupOf(events: Queue<EventJob>): PlannerLookup {
  return async (eventJobId) => {
    const job = await events.getJob(eventJobId);
    if (!job) return undefined;
    return { state: await job.getState(), ...(job.processedOn !== undefined ? { processedOn: job.processedOn } : {}) };
  };
}

/** `OrphanedRunDeps.builds` from the build queue: attempts 1 to the last one given out (see BuildAttempts). */
export function slotBuildsOf(builds: Queue<BuildJob>, attempts: BuildAttempts): OrphanedRunDeps["builds"] {
  return async (slot) => {
    const out: SlotBuild[] = [];
    const last = await attempts.current(slot.repoId, slot.sha, slot.image);
    for (let attempt = 1; attempt <= last; attempt++) {
      const buildId = buildJobId({ installationId: slot.installationId, repoId: slot.repoId, sha: slot.sha, image: slot.image, attempt });
      const job = await builds.getJob(buildId);
      const state = job ? await job.getState() : undefined;
      out.push({ buildId, state, ...(job?.data.checkRunId !== undefined ? { checkRunId: job.data.checkRunId } : {}) });
    }
    return out;
  };
}
