import { createHash } from "node:crypto";
import type { Probot } from "probot";
import { listFilesBetweenCommits, readRepoFile } from "../github/index.js";
import type { CacheReport, CacheStepRow } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import type { BuildRecord, CacheHistory, RecordedStep, RecordKey } from "./cache-history.js";
import { explainFirstRerun } from "./cache-explain.js";
import type { TimelineStep } from "./step-timeline.js";

export interface CacheReportDeps {
  history: CacheHistory;
  /** `auth(id)` → the installation's Octokit, for the compare and contents reads. */
  github: Pick<Probot, "auth">;
}

/**
 * The cache report of a finished build, and its record for the builds after it. Each cached step's saving is
 * estimated from the last time it ran (same vertex digest, else the same step in the ref's or the base branch's
 * last build). When the build ran a step, the base branch's last build of the image says which input changed.
 */
export async function reportCache(
  job: BuildJob,
  steps: readonly TimelineStep[],
  deps: CacheReportDeps,
  /** A failed build's report: its record is not kept (the next build compares with the last good one). */
  opts: { failed?: boolean } = {},
): Promise<CacheReport | undefined> {
  if (steps.length === 0) return undefined;
  const note = steps.some((s) => /^FROM\s+\S+$/i.test(s.text) && !s.text.includes("@sha256:")) ? UNPINNED_FROM_NOTE : undefined;
  const own = ownRef(job);
  const baseRef = baseRefOf(job);
  const at = (ref: string): RecordKey => ({ repoId: job.repository.repoId, image: job.image.name, ref });
  const [previous, base] = await Promise.all([
    own ? deps.history.read(at(own)) : undefined,
    baseRef === own ? undefined : deps.history.read(at(baseRef)),
  ]);
  const compareWith = baseRef === own ? previous : base;
  const records = [previous, base].filter((r): r is BuildRecord => r !== undefined);
  const estimate = estimator(records);
  const rows = steps.map((s): CacheStepRow => {
    const status = rowStatus(s);
    return {
      name: s.name,
      status,
      ...(s.durationMs !== undefined && (status === "ran" || status === "failed") ? { durationMs: s.durationMs } : {}),
      ...(status === "cached" && estimate(s) !== undefined ? { savedMs: estimate(s) } : {}),
    };
  });
  const args = argHashes(job.image.buildArgs);
  const explained =
    compareWith && compareWith.sha !== job.sha && !job.noCache
      ? // GitHub's answer only sharpens the report: without it, the table still goes out.
        await explainFirstRerun({ steps, base: compareWith, args, dockerfile: job.image.dockerfile, context: job.image.context, reads: reads(job, compareWith, deps) }).catch(() => undefined)
      : undefined;
  if (own && !opts.failed) {
    const record: BuildRecord = {
      v: 1,
      sha: job.sha,
      dockerfile: job.image.dockerfile,
      context: job.image.context,
      args,
      steps: steps.map((s) => recordOf(s, estimate(s))),
      at: new Date().toISOString(),
    };
    await deps.history.write(at(own), record);
  }
  return {
    steps: rows,
    ...(explained && compareWith ? { firstRerun: { step: explained.step.name, base: { ref: shortRef(compareWith === previous ? (own ?? baseRef) : baseRef), sha: compareWith.sha }, cause: explained.cause } } : {}),
    ...(job.noCache ? { note: "Built without the cache, as asked: every step ran." } : note ? { note } : {}),
  };
}

/**
 * A `FROM` is not a step the cache can save (BuildKit reports it done on every build): it shows what the daemon did
 * with the image, resolved (already at hand) or pulled, and is never counted as a step that ran.
 */
function rowStatus(s: TimelineStep): CacheStepRow["status"] {
  if (s.status === "running") return "stopped";
  if (s.from && s.status !== "failed") return s.from.pulled ? "pulled" : "resolved";
  return s.status;
}

/** Said when a `FROM` step carries no digest: BuildKit before v0.9 (the Docker Engine 20.10's) names none. */
export const UNPINNED_FROM_NOTE =
  "This builder does not say which digest each FROM image resolved to (the Docker Engine 20.10's BuildKit names none), so a base image that moved is reported as a cache that was not found.";

/** The ref the build's record is kept under: its branch or tag, or `pull/N` for a pull request's own ref. */
function ownRef(job: BuildJob): string | undefined {
  if (job.ref) return job.ref;
  return job.pullRequest ? `pull/${job.pullRequest.number}` : undefined;
}

/** A pull request compares with its base branch; everything else with the default branch (itself: its previous build). */
function baseRefOf(job: BuildJob): string {
  return `refs/heads/${job.pullRequest ? job.pullRequest.baseRef : job.repository.defaultBranch}`;
}

const shortRef = (ref: string): string => ref.replace(/^refs\/(heads|tags)\//, "");

/** A cached step's saving: its run time in the newest record that ran it, or the estimate that record carried. */
function estimator(records: readonly BuildRecord[]): (s: TimelineStep) => number | undefined {
  const byDigest = new Map<string, RecordedStep>();
  const byKey = new Map<string, RecordedStep>();
  for (const r of [...records].reverse()) {
    for (const s of r.steps) {
      if (valueOf(s) === undefined) continue;
      byDigest.set(s.d, s);
      byKey.set(s.k, s);
    }
  }
  return (s) => {
    if (s.status === "ran") return s.durationMs;
    const hit = byDigest.get(s.digest) ?? byKey.get(s.key);
    return hit ? valueOf(hit) : undefined;
  };
}

const valueOf = (s: RecordedStep): number | undefined => (s.c ? s.est : s.ms);

function recordOf(s: TimelineStep, estimate: number | undefined): RecordedStep {
  const cached = s.status === "cached";
  return {
    d: s.digest,
    k: s.key,
    c: cached,
    ...(!cached && s.durationMs !== undefined ? { ms: s.durationMs } : {}),
    ...(cached && estimate !== undefined ? { est: estimate } : {}),
  };
}

/** Build args by name, each value as a short hash: enough to see one changed, nothing to read it back by. */
export function argHashes(args: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(args).map(([name, value]) => [name, createHash("sha256").update(`${name}\0${value}`).digest("hex").slice(0, 16)]));
}

function reads(job: BuildJob, base: BuildRecord, deps: CacheReportDeps) {
  const { owner, repo, installationId } = job.repository;
  let client: ReturnType<CacheReportDeps["github"]["auth"]> | undefined;
  const github = () => (client ??= deps.github.auth(installationId));
  return {
    changedFiles: async () => listFilesBetweenCommits(await github(), { owner, repo, base: base.sha, head: job.sha }),
    dockerfiles: async () => {
      const octokit = await github();
      const [before, now] = await Promise.all([
        readRepoFile(octokit, { owner, repo, path: base.dockerfile, ref: base.sha }),
        readRepoFile(octokit, { owner, repo, path: job.image.dockerfile, ref: job.sha }),
      ]);
      return { ...(before !== undefined ? { before } : {}), ...(now !== undefined ? { now } : {}) };
    },
  };
}
