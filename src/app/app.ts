import type { ApplicationFunction } from "probot";
import { createWebhookIntake } from "../intake/index.js";
import { createEventDispatcher } from "../handlers/index.js";
import type { WebhookHandlerDeps } from "../handlers/index.js";
import { measuredWebhooks } from "../metrics/index.js";

/** A plain HTTP route added next to the webhook endpoint (Probot's `addHandler`). */
export type RouteHandler = Parameters<Parameters<ApplicationFunction>[1]["addHandler"]>[0];

export interface AppDeps extends WebhookHandlerDeps {
  /** Extra routes, e.g. the build log page (src/web); each answers `true` when it handled the request. */
  routes?: RouteHandler[];
  /** The webhook endpoint: WEBHOOK_PATH and WEBHOOK_SECRET as Probot reads them. */
  webhook: { path: string; secret: string };
  /** Receives what must run when the app stops (the intake's body threads). */
  onClose?(close: () => Promise<void>): void;
}

/**
 * The Probot app: our webhook intake in front, dispatching straight to our handlers, then our own routes.
 *
 * Deliveries do not go through Probot's `receive`: it would build a Context with an installation Octokit (an
 * auth-app token lookup and a fresh Octokit with every REST method) for each delivery, which the handlers never
 * use — they only store an event job, and the planner mints its installation Octokit from the queue. Probot still
 * runs the HTTP server (ping, our routes, WEBHOOK_PROXY_URL, setup mode), the logger, and the App's GitHub auth
 * for the workers.
 */
export function createApp(deps: AppDeps): ApplicationFunction {
  return (app, { addHandler }) => {
    const dispatch = createEventDispatcher(deps, app.log.child({ name: "event" }));
    const intake = createWebhookIntake({ ...deps.webhook, log: app.log, receive: dispatch });
    deps.onClose?.(() => intake.close());
    // Probot's server puts what this returns first in its request chain, before ping and our routes; the
    // intake takes that place so no webhook body reaches Probot's own middleware, which buffers a body of
    // any size before checking its signature.
    // Counted there too: every delivery answered, by event and outcome, and its time to the answer.
    const measured = measuredWebhooks(intake);
    app.getNodeMiddleware = async () => measured;
    for (const route of deps.routes ?? []) addHandler(route);
  };
}
