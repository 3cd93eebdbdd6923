import type { ApplicationFunction } from "probot";
import { registerWebhookHandlers } from "../handlers/register-handlers.js";
import type { WebhookHandlerDeps } from "../handlers/register-handlers.js";

/** A plain HTTP route added next to the webhook endpoint (Probot's `addHandler`). */
export type RouteHandler = Parameters<Parameters<ApplicationFunction>[1]["addHandler"]>[0];

export interface AppDeps extends WebhookHandlerDeps {
  /** Extra routes, e.g. the build log page (src/web); each answers `true` when it handled the request. */
  routes?: RouteHandler[];
}

/** The Probot app: webhook handlers, then our own routes. */
export function createApp(deps: AppDeps): ApplicationFunction {
  return (app, { addHandler }) => {
    registerWebhookHandlers(app, deps);
    for (const route of deps.routes ?? []) addHandler(route);
  };
}
