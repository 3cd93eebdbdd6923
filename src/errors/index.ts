// The app's error hierarchy: `AppError` (a stable code and one `transient` flag) and the one reading of that flag.
export { AppError, TransientError } from "./app-error.js";
export { MustWaitError } from "./must-wait.js";
export { httpStatusOf, mentionsSecondaryRateLimit, retryAfterHeaderMs } from "./foreign-errors.js";
export { isTransientError, retryAfterMs } from "./transient.js";
