import { clipChars, stripAnsi, tailUtf8 } from "../text/index.js";
import { REBUILD_ACTIONS } from "./check-run-actions.js";
import { checkRunName, statusContext } from "./check-run-names.js";
import {
  renderCancelled,
  renderFailed,
  renderNeutral,
  renderProgress,
  renderQueued,
  renderRetrying,
  renderSucceeded,
  statusDescription,
  type BuildFailure,
  type BuildProgress,
  type BuildSuccess,
  type CheckRunOutput,
  type DockerfileFinding,
} from "./check-run-output.js";
import type { OctokitRequest } from "./octokit-request.js";
import type { WriteBudget, WriteKind } from "./write-budget.js";

export interface CheckRunTarget {
  owner: string;
  repo: string;
  sha: string;
  /** Image name from the repo config; names the check run and the status context. */
  image: string;
  /** The check run made by the planner; when absent (and no `checkRunIdLater`) `queued` creates one. */
  checkRunId?: number;
  /**
   * The planner's check run when it was still being created as the build started: run writes wait for it, and
   * are skipped when it resolves to undefined (the run was withdrawn). Statuses never wait.
   */
  checkRunIdLater?: Promise<number | undefined>;
  /** The build's log page, used as `details_url` and `target_url`; omitted from both when absent. */
  detailsUrl?: string;
  externalId?: string;
}

export interface BuildCheckRunOptions {
  request: OctokitRequest;
  budget: WriteBudget;
  target: CheckRunTarget;
  /** Least time between two progress updates of one run. Default 30 s. */
  progressIntervalMs?: number;
  now?: () => number;
}

export interface CheckRunAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "notice" | "warning" | "failure";
  message: string;
  title?: string;
  raw_details?: string;
}

export const ANNOTATIONS_PER_REQUEST = 50;

/** A warning annotation per Dockerfile check finding that names its lines: the rule, what it found, its documentation. */
function findingAnnotations(findings: readonly DockerfileFinding[]): CheckRunAnnotation[] {
  return findings.flatMap((f) =>
    f.location
      ? [
          {
            path: f.location.file,
            start_line: f.location.startLine,
            end_line: Math.max(f.location.startLine, f.location.endLine),
            annotation_level: "warning" as const,
            title: clipChars(`Dockerfile check: ${f.rule}`, 255),
            message: clipChars(`${f.rule}: ${stripAnsi(f.message)}${f.url ? `\n${f.url}` : ""}`, 4000),
            ...(f.description ? { raw_details: clipChars(stripAnsi(f.description), 4000) } : {}),
          },
        ]
      : [],
  );
}

type StatusState = "error" | "failure" | "pending" | "success";

export type ProgressOutcome = "sent" | "unchanged" | "too-soon" | "superseded" | "finished";

/**
 * One build's check run on GitHub and the commit status that mirrors it: every write for them, through the
 * shared write budget. Queued/started/progress are intermediate (they may be coalesced away under pressure); the outcome
 * (succeeded/failed/cancelled/neutral) is final and is never dropped. Writes for the run are sent one at a time,
 * and once an outcome is being reported no intermediate update is sent any more.
 */
export class BuildCheckRun {
  readonly #request: OctokitRequest;
  readonly #budget: WriteBudget;
  readonly #target: CheckRunTarget;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #checkRunId: number | undefined;
  readonly #checkRunIdLater: Promise<number | undefined> | undefined;
  #finished = false;
  #lastProgressAt = Number.NEGATIVE_INFINITY;
  /** When the solve began; repeated in the completion, since the `in_progress` update may have been superseded. */
  #startedAt: string | undefined;
  #lastProgressSummary: string | undefined;
  /** One queue per resource: the check run's writes keep their order, and so do the status's. */
  readonly #sending = { run: Promise.resolve() as Promise<unknown>, status: Promise.resolve() as Promise<unknown> };

  constructor(options: BuildCheckRunOptions) {
    this.#request = options.request;
    this.#budget = options.budget;
    this.#target = options.target;
    this.#intervalMs = options.progressIntervalMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#checkRunId = options.target.checkRunId;
    this.#checkRunIdLater = this.#checkRunId === undefined ? options.target.checkRunIdLater : undefined;
  }

  get checkRunId(): number | undefined {
    return this.#checkRunId;
  }

  get name(): string {
    return checkRunName(this.#target.image);
  }

  /**
   * The same run and status, written through `request` instead (a token confined to the run's repository, for a
   * refused job). This one writes nothing more. With `at`, they are written in that repository (as GitHub names
   * the token's one repository) and without the log page, which shows the job's own words.
   */
  through(request: OctokitRequest, at?: { owner: string; repo: string }): BuildCheckRun {
    this.#finished = true;
    const { checkRunId: _id, checkRunIdLater: _later, detailsUrl, ...rest } = this.#target;
    const place = at ? { ...rest, owner: at.owner, repo: at.repo } : { ...rest, ...(detailsUrl !== undefined ? { detailsUrl } : {}) };
    const id = this.#checkRunId !== undefined ? { checkRunId: this.#checkRunId } : this.#checkRunIdLater ? { checkRunIdLater: this.#checkRunIdLater } : {};
    return new BuildCheckRun({ request, budget: this.#budget, target: { ...place, ...id }, progressIntervalMs: this.#intervalMs, now: this.#now });
  }

  /** Creates the check run (or marks the planner's one queued) and sets the status pending. Returns the run id. */
  async queued(): Promise<number> {
    const output = renderQueued(this.#target.image);
    let id = await this.#runId();
    if (id === undefined) {
      // The run must exist before anything else can be reported, so its creation is never coalesced.
      let created: number | undefined;
      await this.#budget.send("final", this.#runKey(), async () => {
        const { data } = await this.#send("run", () =>
          this.#request("POST /repos/{owner}/{repo}/check-runs", {
            owner: this.#target.owner,
            repo: this.#target.repo,
            name: this.name,
            head_sha: this.#target.sha,
            status: "queued",
            details_url: this.#target.detailsUrl,
            ...(this.#target.externalId ? { external_id: this.#target.externalId } : {}),
            output,
          }),
        );
        // GitHub's description types ids as int64 (`number | bigint`); JSON gives a number.
        created = Number(data.id);
      });
      id = created as number;
      this.#checkRunId = id;
    } else {
      await this.#patch("intermediate", { status: "queued", details_url: this.#target.detailsUrl, output });
    }
    await this.#status("intermediate", "pending", "Queued");
    return id;
  }

  async started(progress?: BuildProgress): Promise<void> {
    const output = renderProgress(this.#target.image, progress);
    this.#lastProgressAt = this.#now();
    this.#lastProgressSummary = output.summary;
    this.#startedAt = new Date(this.#now()).toISOString();
    // Two resources, so no order between them to keep: both go out at once.
    const results = await Promise.allSettled([
      this.#patch("intermediate", {
        status: "in_progress",
        started_at: this.#startedAt,
        details_url: this.#target.detailsUrl,
        output,
      }),
      this.#status("intermediate", "pending", "Building"),
    ]);
    for (const result of results) if (result.status === "rejected") throw result.reason;
  }

  /**
   * At most one update per interval, and only when the rendered progress changed; the status is left as is.
   * Under budget pressure the returned promise waits (or resolves "superseded"): callers on a hot path
   * should not await it.
   */
  async progress(progress: BuildProgress): Promise<ProgressOutcome> {
    if (this.#finished) return "finished";
    const output = renderProgress(this.#target.image, progress);
    if (output.summary === this.#lastProgressSummary) return "unchanged";
    if (this.#now() - this.#lastProgressAt < this.#intervalMs) return "too-soon";
    this.#lastProgressAt = this.#now();
    this.#lastProgressSummary = output.summary;
    return (await this.#patch("intermediate", { status: "in_progress", output })) ? "sent" : "superseded";
  }

  async succeeded(result: BuildSuccess): Promise<void> {
    const output = renderSucceeded(this.#target.image, result);
    await this.#complete("success", output, findingAnnotations(result.findings ?? []));
    await this.#status("final", "success", `${output.title}${result.cachedSteps ? `, ${result.cachedSteps} steps cached` : ""}`);
  }

  /** Failing step, exit code, the log's tail in `output.text`, and annotations (the failing line first) in batches of 50. */
  async failed(failure: BuildFailure & { annotations?: readonly CheckRunAnnotation[] }): Promise<void> {
    const output = renderFailed(this.#target.image, failure);
    const annotations: CheckRunAnnotation[] = [];
    if (failure.location) {
      const lines = typeof failure.log === "string" ? failure.log.split("\n") : [...failure.log];
      const lastLines = tailUtf8(stripAnsi(lines.slice(-20).join("\n")), 4096);
      annotations.push({
        path: failure.location.file,
        start_line: failure.location.startLine,
        end_line: Math.max(failure.location.startLine, failure.location.endLine),
        annotation_level: "failure",
        title: clipChars(failure.step ? `Step failed: ${failure.step}` : "Build failed", 255),
        message: clipChars(`${stripAnsi(failure.message)}${failure.exitCode !== undefined ? ` (exit code ${failure.exitCode})` : ""}`, 4000),
        ...(lastLines ? { raw_details: lastLines } : {}),
      });
    }
    annotations.push(...(failure.annotations ?? []), ...findingAnnotations(failure.findings ?? []));
    await this.#complete("failure", output, annotations);
    const exit = failure.exitCode !== undefined ? ` (exit ${failure.exitCode})` : "";
    await this.#status("final", "failure", failure.step ? `Failed at ${failure.step}${exit}` : `Failed: ${failure.message}`);
  }

  /**
   * E.g. `superseded by 1a2b3c4`. GitHub statuses have no "cancelled": the status says so with state error. With
   * `status: false` only the run is written: another run of the same commit and image reports the status (its
   * context is per commit and image).
   */
  async cancelled(reason: string, options: { status?: boolean } = {}): Promise<void> {
    await this.#complete("cancelled", renderCancelled(reason), []);
    if (options.status !== false) await this.#status("final", "error", `Cancelled: ${reason}`);
  }

  /**
   * An attempt failed in a way a later attempt may fix and the queue will retry: the run goes back to `queued`
   * with `note` as its summary. Intermediate: it is not sent once an outcome is being reported.
   */
  async retrying(note: string): Promise<void> {
    await this.#patch("intermediate", { status: "queued", output: renderRetrying(this.#target.image, note) });
    await this.#status("intermediate", "pending", `Retrying: ${note}`);
  }

  /** Nothing to judge (e.g. the image is not built for this event). Mirrored as a successful status. */
  async neutral(reason: string): Promise<void> {
    await this.#complete("neutral", renderNeutral(reason), []);
    await this.#status("final", "success", `Skipped: ${reason}`);
  }

  // ---- internals -------------------------------------------------------------------------------------------

  #runKey(id: number | string | undefined = this.#checkRunId): string {
    const t = this.#target;
    return `checkrun:${t.owner}/${t.repo}:${id ?? `${t.sha}:${t.image}`}`;
  }

  /** Sends one request after the ones before it on the same resource, so GitHub sees them in the order made. */
  #send<T>(resource: "run" | "status", fn: () => Promise<T>): Promise<T> {
    const next = this.#sending[resource].then(fn, fn);
    this.#sending[resource] = next.catch(() => undefined);
    return next;
  }

  async #runId(): Promise<number | undefined> {
    if (this.#checkRunId === undefined && this.#checkRunIdLater) this.#checkRunId = await this.#checkRunIdLater;
    return this.#checkRunId;
  }

  /** Returns false when the update was coalesced away, or when the planner's check run never came to be. */
  async #patch(kind: WriteKind, body: Record<string, unknown>): Promise<boolean> {
    const checkRunId = await this.#runId();
    if (checkRunId === undefined) {
      if (this.#checkRunIdLater) return false;
      throw new Error("the check run does not exist yet: call queued() first");
    }
    if (kind === "intermediate" && this.#finished) return false;
    let written = false;
    await this.#budget.send(kind, this.#runKey(), () =>
      this.#send("run", async () => {
        if (kind === "intermediate" && this.#finished) return;
        await this.#request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
          owner: this.#target.owner,
          repo: this.#target.repo,
          check_run_id: checkRunId,
          ...body,
        });
        written = true;
      }),
    );
    return written;
  }

  async #complete(conclusion: "success" | "failure" | "cancelled" | "neutral", output: CheckRunOutput, annotations: CheckRunAnnotation[]): Promise<void> {
    this.#finished = true;
    const batches: CheckRunAnnotation[][] = [];
    for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) batches.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
    const [first, ...rest] = batches;
    await this.#patch("final", {
      status: "completed",
      conclusion,
      ...(this.#startedAt ? { started_at: this.#startedAt } : {}),
      completed_at: new Date(this.#now()).toISOString(),
      details_url: this.#target.detailsUrl,
      output: { ...output, ...(first ? { annotations: first } : {}) },
      actions: REBUILD_ACTIONS,
    });
    // Annotations beyond the first 50 are appended by further updates; title and summary must be repeated.
    for (const batch of rest) {
      await this.#patch("final", { output: { title: output.title, summary: output.summary, annotations: batch } });
    }
  }

  async #status(kind: WriteKind, state: StatusState, description: string): Promise<void> {
    const t = this.#target;
    const context = statusContext(t.image);
    await this.#budget.send(kind, `status:${t.owner}/${t.repo}:${t.sha}:${context}`, () =>
      this.#send("status", async () => {
        if (kind === "intermediate" && this.#finished) return;
        await this.#request("POST /repos/{owner}/{repo}/statuses/{sha}", {
          owner: t.owner,
          repo: t.repo,
          sha: t.sha,
          state,
          context,
          description: statusDescription(description),
          target_url: t.detailsUrl,
        });
      }),
    );
  }
}
