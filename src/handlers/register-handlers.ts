import type { Probot } from "probot";
import type { EventStore } from "../queue/event-queue.js";
import { InvalidPayloadError } from "../intake/intake-errors.js";
import { QueueUnavailableError, SecretInJobDataError } from "../queue/queue-errors.js";
import { checkRunEventJob } from "./check-run-event.js";
import { checkSuiteEventJob } from "./check-suite-event.js";
import type { HandlerContext, HandlerResult } from "./handler-result.js";
import { pullRequestEventJob } from "./pull-request-event.js";
import { pushEventJob } from "./push-event.js";

export interface WebhookHandlerDeps {
  store: EventStore;
  /** Our GitHub App id, to recognise our own check runs and suites. */
  appId: number;
  gitBaseUrl: string;
}

type Build = (payload: unknown, ctx: HandlerContext) => HandlerResult;

interface EventContext {
  id: string;
  name: string;
  payload: unknown;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; debug(o: object, m: string): void };
}

/**
 * Thin handlers: the intake (src/intake) has verified the signature and the payload's minimal shape; each
 * handler reads the payload, stores at most one event job and answers. No GitHub API call happens here — the
 * planner does those from the queue. A payload that is not what its event says throws InvalidPayloadError (the
 * intake answers 400 with its plain message); a Redis failure becomes a 503 (QueueUnavailableError.status) so the
 * delivery shows as failed and can be redelivered.
 */
export function registerWebhookHandlers(app: Probot, deps: WebhookHandlerDeps): void {
  const handle = (build: Build) => async (context: EventContext) => {
    const result = build(context.payload, { deliveryId: context.id, appId: deps.appId, gitBaseUrl: deps.gitBaseUrl });
    const where = { event: context.name, deliveryId: context.id };
    if (result.kind === "invalid") {
      context.log.warn({ ...where, problem: result.problem }, `malformed ${context.name} payload refused: ${result.problem}`);
      throw new InvalidPayloadError(`malformed ${context.name} payload: ${result.problem}`);
    }
    if (result.kind === "ignored") {
      context.log.debug({ ...where, reason: result.reason }, `${context.name} ignored: ${result.reason}`);
      return;
    }
    try {
      const stored = await deps.store.store(result.job);
      context.log.info(
        { ...where, jobId: stored.jobId, redelivery: !stored.stored, sha: result.job.sha, reason: result.job.reason },
        stored.stored ? "event queued" : "redelivered event already queued",
      );
    } catch (err) {
      if (err instanceof SecretInJobDataError) {
        context.log.warn({ ...where, problem: err.message }, `${context.name} payload ignored: ${err.message}`);
        return;
      }
      throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(undefined, { cause: err });
    }
  };

  app.on("push", handle(pushEventJob));
  app.on("pull_request", handle(pullRequestEventJob));
  app.on("check_run", handle(checkRunEventJob));
  app.on("check_suite", handle(checkSuiteEventJob));
}
