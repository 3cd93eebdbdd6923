import { QueueUnavailableError, SecretInJobDataError } from "../queue/index.js";
import type { EventStore } from "../queue/index.js";
import { MalformedDeliveryError } from "../intake/index.js";
import { checkRunEventJob } from "./check-run-event.js";
import { checkSuiteEventJob } from "./check-suite-event.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { issueCommentEventJob } from "./issue-comment-event.js";
import { mergeGroupEventJob } from "./merge-group-event.js";
import { pullRequestClosedJob, pullRequestEventJob } from "./pull-request-event.js";
import type { PrClosedStore } from "../cleanup/index.js";
import { pushEventJob } from "./push-event.js";

export interface WebhookHandlerDeps {
  store: EventStore;
  /** Our GitHub App id, to recognise our own check runs and suites. */
  appId: number;
  gitBaseUrl: string;
  /** Where a closed pull request goes for its images' clean-up; without it, `closed` is ignored. */
  prClosed?: PrClosedStore;
}

type Build = (payload: unknown, ctx: HandlerContext) => HandlerResult;

/** A delivery whose signature and minimal shape the intake has checked. */
export interface WebhookEvent {
  id: string;
  name: string;
  payload: unknown;
}

export interface HandlerLog {
  warn(o: object, m: string): void;
  debug(o: object, m: string): void;
}

/** Hands one delivery to the handler of its event; resolves once it is stored (or deliberately not). */
export type EventDispatcher = (event: WebhookEvent) => Promise<void>;

/**
 * Thin handlers: the intake (src/intake) has verified the signature and the payload's minimal shape; each
 * handler reads the payload, stores at most one event job and answers. No GitHub API call happens here — the
 * planner does those from the queue. A payload that is not what its event says throws MalformedDeliveryError (the
 * intake answers 400 with its plain message); a Redis failure becomes a 503 (QueueUnavailableError.status) so the
 * delivery shows as failed and can be redelivered.
 */
export function createEventDispatcher(deps: WebhookHandlerDeps, log: HandlerLog): EventDispatcher {
  const handle = (build: Build) => async (event: WebhookEvent) => {
    const result = build(event.payload, { deliveryId: event.id, appId: deps.appId, gitBaseUrl: deps.gitBaseUrl });
    const where = { event: event.name, deliveryId: event.id };
    if (result.kind === "invalid") {
      log.warn({ ...where, problem: result.problem }, `malformed ${event.name} payload refused: ${result.problem}`);
      throw new MalformedDeliveryError(`malformed ${event.name} payload: ${result.problem}`);
    }
    if (result.kind === "ignored") {
      log.debug({ ...where, reason: result.reason }, `${event.name} ignored: ${result.reason}`);
      return;
    }
    try {
      const stored = await deps.store.store(result.job);
      // Debug, not info: a line per delivery costs ingest throughput, and the queue itself records every job.
      log.debug({ ...where, jobId: stored.jobId, sha: result.job.sha, reason: result.job.reason }, "event queued");
    } catch (err) {
      if (err instanceof SecretInJobDataError) {
        log.warn({ ...where, problem: err.message }, `${event.name} payload ignored: ${err.message}`);
        return;
      }
      throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(undefined, { cause: err });
    }
  };

  const pullRequest = handle(pullRequestEventJob);
  const prClosed = deps.prClosed;
  const handlers: ReadonlyMap<string, (event: WebhookEvent) => Promise<void>> = new Map([
    ["push", handle(pushEventJob)],
    ["pull_request", prClosed ? (event: WebhookEvent) => pullRequestOrClosed(event, prClosed, pullRequest, deps, log) : pullRequest],
    ["check_run", handle(checkRunEventJob)],
    ["check_suite", handle(checkSuiteEventJob)],
    ["issue_comment", handle(issueCommentEventJob)],
    ["merge_group", handle(mergeGroupEventJob)],
  ]);
  // Other events (ping, installation, …) are acknowledged and dropped.
  return async (event) => handlers.get(event.name)?.(event);
}

/** `closed` goes to the clean-up of the pull request's images; every other action to the event queue. */
async function pullRequestOrClosed(
  event: WebhookEvent,
  store: PrClosedStore,
  otherwise: (event: WebhookEvent) => Promise<void>,
  deps: WebhookHandlerDeps,
  log: HandlerLog,
): Promise<void> {
  const closed = pullRequestClosedJob(event.payload, { deliveryId: event.id, appId: deps.appId, gitBaseUrl: deps.gitBaseUrl });
  if (closed === undefined) return otherwise(event);
  if ("problem" in closed) {
    log.warn({ event: event.name, deliveryId: event.id, problem: closed.problem }, `malformed ${event.name} payload refused: ${closed.problem}`);
    throw new MalformedDeliveryError(`malformed ${event.name} payload: ${closed.problem}`);
  }
  try {
    await store.closed(closed.job);
  } catch (err) {
    throw new QueueUnavailableError(undefined, { cause: err });
  }
}
