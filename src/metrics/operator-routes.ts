import type { IncomingMessage, ServerResponse } from "node:http";
import { metricsRegistry } from "./registry.js";
import { readiness } from "./health.js";
import type { ReadinessCheck } from "./health.js";

export type OperatorRoute = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & {
  /** From now on /healthz and /readyz answer 503: the process is shutting down. */
  stopping(): void;
};

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`);
}

/**
 * What operators and orchestrators read, on every role: `/metrics` (Prometheus text format), `/healthz` (liveness:
 * the process's loop runs, so it answers) and `/readyz` (readiness: every check passes within its time bound).
 * Both health routes answer 503 once the process is stopping.
 */
export function createOperatorRoutes(options: { checks: readonly ReadinessCheck[] }): OperatorRoute {
  let stopping = false;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(res, 405, { error: `${req.method ?? ""} not allowed; use GET` });
      return true;
    }
    if (path === "/metrics") {
      send(res, 200, metricsRegistry.contentType, await metricsRegistry.metrics());
    } else if (stopping) {
      json(res, 503, { status: "stopping" });
    } else if (path === "/healthz") {
      json(res, 200, { status: "ok" });
    } else {
      const report = await readiness(options.checks);
      json(res, report.ready ? 200 : 503, { status: report.ready ? "ready" : "not ready", checks: report.checks });
    }
    return true;
  };
  return Object.assign(route, {
    stopping: () => {
      stopping = true;
    },
  });
}
