import type { ProgressEvent, ProgressHandler } from "./events.js";

/**
 * One JSON object per event and line: `type` first, `at` as an ISO-8601 string, the event's other fields
 * unchanged (log `data` as a string). Suited to `jq` and to log shippers.
 */
export function jsonLinesProgress(out: NodeJS.WritableStream): ProgressHandler {
  return (event: ProgressEvent) => {
    out.write(`${formatEventJson(event)}\n`);
  };
}

/** The JSON line for one event, without the trailing newline. */
export function formatEventJson(event: ProgressEvent): string {
  const { type, at, ...rest } = event;
  return JSON.stringify({ type, at: at.toISOString(), ...rest });
}
