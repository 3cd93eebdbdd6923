import type { Logger } from "probot";

/** The child name Probot's server gives its pino-http access logger. */
const ACCESS_LOG_NAME = "http";

/**
 * `log` for Probot's server, with its per-request access log (pino-http, one info line per request) raised to
 * warn unless debug logging is on. At webhook rates that line cost more CPU than the rest of the ingest path
 * (serialising the request's headers and writing to stdout); the intake logs every refused or failed webhook
 * itself, at warn or error.
 */
export function quietAccessLog(log: Logger): Logger {
  if (log.isLevelEnabled("debug")) return log;
  // pino's own child loggers are prototype children too: everything but `child` behaves as `log`.
  const quiet = Object.create(log) as Logger;
  quiet.child = ((bindings, options) =>
    bindings.name === ACCESS_LOG_NAME ? silentChildren(log.child(bindings, { ...options, level: "warn" })) : log.child(bindings, options)) as Logger["child"];
  return quiet;
}

/**
 * The access logger at warn, whose children are itself. pino-http writes every line at info, so at warn it writes
 * none; but per request it still makes a child logger bound to the request, which serialises the request's headers
 * at once (pino computes a child's bindings eagerly): work and garbage for a line that is never written.
 */
function silentChildren<L extends object>(log: L): L {
  const silent = Object.create(log, { child: { value: () => silent } }) as L;
  return silent;
}
