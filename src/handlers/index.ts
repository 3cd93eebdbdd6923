// Webhook payloads turned into event jobs: one pure handler per event, and the dispatcher that stores their jobs.
export { createEventDispatcher } from "./register-handlers.js";
export type { WebhookHandlerDeps } from "./register-handlers.js";
