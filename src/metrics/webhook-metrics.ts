import type { IncomingMessage, ServerResponse } from "node:http";
import { webhookDeliveries, webhookIngestSeconds } from "./app-metrics.js";

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The events a delivery may name in its metrics. The header arrives before the signature is checked, so anything
 * else is counted as `other`: a sender cannot make up label values.
 */
const KNOWN_EVENTS = new Set([
  "push",
  "pull_request",
  "check_run",
  "check_suite",
  "issue_comment",
  "merge_group",
  "installation",
  "installation_repositories",
  "installation_target",
  "github_app_authorization",
  "meta",
  "ping",
  "create",
  "delete",
  "repository",
  "member",
  "pull_request_review",
  "pull_request_review_comment",
  "status",
  "workflow_run",
]);

export type DeliveryOutcome = "accepted" | "refused" | "unavailable" | "failed";

export function deliveryOutcome(status: number): DeliveryOutcome {
  if (status < 400) return "accepted";
  if (status === 503) return "unavailable";
  return status < 500 ? "refused" : "failed";
}

function eventLabel(req: IncomingMessage): string {
  const v = req.headers["x-github-event"];
  const name = Array.isArray(v) ? v[0] : v;
  return name !== undefined && KNOWN_EVENTS.has(name) ? name : "other";
}

/**
 * The webhook endpoint, counted: every delivery it answers adds one to its event and outcome, and its time from
 * arrival to answer to the ingest histogram. Requests it leaves to the next route are not counted.
 */
export function measuredWebhooks<R extends Route>(route: R): R {
  const measured = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const started = process.hrtime.bigint();
    const handled = await route(req, res);
    if (handled) {
      const outcome = deliveryOutcome(res.statusCode);
      webhookDeliveries.labels(eventLabel(req), outcome).inc();
      webhookIngestSeconds.labels(outcome).observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    return handled;
  };
  return Object.assign(measured, route);
}
