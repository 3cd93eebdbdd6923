import type { ApplicationFunction, Probot } from "probot";
import { createWebhookIntake } from "../intake/webhook-intake.js";
import { registerWebhookHandlers } from "../handlers/register-handlers.js";
import type { WebhookHandlerDeps } from "../handlers/register-handlers.js";

/** A plain HTTP route added next to the webhook endpoint (Probot's `addHandler`). */
export type RouteHandler = Parameters<Parameters<ApplicationFunction>[1]["addHandler"]>[0];

export interface AppDeps extends WebhookHandlerDeps {
  /** Extra routes, e.g. the build log page (src/web); each answers `true` when it handled the request. */
  routes?: RouteHandler[];
  /** The webhook endpoint: WEBHOOK_PATH and WEBHOOK_SECRET as Probot reads them. */
  webhook: { path: string; secret: string };
}

/** The Probot app: our webhook intake in front, the webhook handlers, then our own routes. */
export function createApp(deps: AppDeps): ApplicationFunction {
  return (app, { addHandler }) => {
    const intake = createWebhookIntake({
      ...deps.webhook,
      log: app.log,
      // Verified and shape-checked by the intake; Probot's receive does not verify a second time.
      receive: (event) => app.receive(event as unknown as Parameters<Probot["receive"]>[0]),
    });
    // Probot's server puts what this returns first in its request chain, before ping and our routes; the
    // intake takes that place so no webhook body reaches Probot's own middleware, which buffers a body of
    // any size before checking its signature.
    app.getNodeMiddleware = async () => intake;
    registerWebhookHandlers(app, deps);
    for (const route of deps.routes ?? []) addHandler(route);
  };
}
