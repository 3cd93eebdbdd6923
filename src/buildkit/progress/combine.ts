import type { ProgressEvent, ProgressHandler } from "./events.js";

/** One handler that calls each of `handlers` in turn; every handler sees the event even if an earlier one threw. */
export function combineHandlers(...handlers: ProgressHandler[]): ProgressHandler {
  return (event: ProgressEvent) => {
    let failure: { error: unknown } | undefined;
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };
}
