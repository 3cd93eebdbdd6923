import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { OperatorRoute } from "./operator-routes.js";

export interface OperatorServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The worker role's own small HTTP listener: the operator routes and nothing else (404). The web and `all` roles
 * serve the same routes on Probot's server instead.
 */
export async function startOperatorServer(options: { route: OperatorRoute; port: number; host?: string }): Promise<OperatorServer> {
  const server = createServer((req, res) => {
    options.route(req, res).then(
      (handled) => {
        if (handled) return;
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found: this is the worker's operator listener (/metrics, /healthz, /readyz)\n");
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("internal error\n");
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
