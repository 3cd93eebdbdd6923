// The webhook endpoint before Probot sees a delivery: body limits, signature, payload shape, the HTTP answer.
export { MalformedDeliveryError } from "./intake-errors.js";
export { createWebhookIntake } from "./webhook-intake.js";
export { payloadFields } from "./payload-types.js";
export { INSTALLATION_EVENTS } from "./webhook-payload.js";
export type { FieldName, Fields, HandledEvent, ItemOf, ObjectPart, PayloadOf, ValueAt } from "./payload-types.js";
