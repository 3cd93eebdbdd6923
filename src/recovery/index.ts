// Missed-webhook recovery: asks GitHub to redeliver the App's failed webhook deliveries.
export { DeliveryRecovery } from "./delivery-recovery.js";
export type { DeliveryRecoveryOptions, RecoveryLog, RecoveryPass } from "./delivery-recovery.js";
export { failedDeliveries } from "./failed-deliveries.js";
export type { FailedDelivery, FailedDeliveryFilter } from "./failed-deliveries.js";
