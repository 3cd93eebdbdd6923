import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A unix-socket HTTP proxy in front of a real Docker Engine that answers chosen requests itself with an error, and
 * passes everything else through unchanged: ordinary API calls, and the `/grpc` and `/session` upgrades (h2c) the
 * BuildKit client makes, byte for byte once upgraded. `docker-engine://<socket>` then reaches the real Engine, with
 * the faults in between.
 */
export interface EngineFaultProxy {
  socket: string;
  /** `docker-engine://<socket>` */
  address: string;
  /** Every request the proxy answered itself, as `METHOD path` (path without the API version). */
  readonly injected: readonly string[];
  /** Every request seen, as `METHOD path`, upgrades included. */
  readonly seen: readonly string[];
  close(): Promise<void>;
}

export interface EngineFault {
  /** Which requests to fail, by method and path without the `/v1.NN` prefix (query string included). */
  matches(method: string, path: string): boolean;
  /** How many matching requests to fail; later ones pass through. */
  times: number;
  status: number;
  message: string;
}

/** Fails the first `times` pushes (`POST /images/{name}/push`) with `status`, the way the Engine reports a daemon error. */
export function failPushes(times: number, status = 500): EngineFault {
  return {
    matches: (method, path) => method === "POST" && /^\/images\/.+\/push(\?|$)/.test(path),
    times,
    status,
    message: `injected by the test proxy: the Engine failed the push (${status})`,
  };
}

export async function startEngineFaultProxy(engineSocket: string, faults: EngineFault[]): Promise<EngineFaultProxy> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-engine-fault-"));
  const socket = join(dir, "docker.sock");
  const injected: string[] = [];
  const seen: string[] = [];
  const left = faults.map((f) => f.times);
  const open = new Set<net.Socket>();

  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").replace(/^\/v1\.\d+/, "");
    seen.push(`${method} ${path}`);
    const i = faults.findIndex((f, n) => (left[n] ?? 0) > 0 && f.matches(method, path));
    const fault = faults[i];
    if (fault) {
      left[i] = (left[i] ?? 0) - 1;
      injected.push(`${method} ${path}`);
      req.resume();
      req.on("end", () => {
        res.writeHead(fault.status, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ message: fault.message }));
      });
      return;
    }
    const upstream = http.request({ socketPath: engineSocket, method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });

  // `/grpc` and `/session`: replay the request line and headers to the Engine, then join the two sockets.
  server.on("upgrade", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`${req.method ?? ""} ${(req.url ?? "").replace(/^\/v1\.\d+/, "")}`);
    const engine = net.connect(engineSocket);
    for (const s of [client, engine]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => s.destroy());
    }
    client.on("close", () => engine.destroy());
    engine.on("close", () => client.destroy());
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let n = 0; n < req.rawHeaders.length; n += 2) lines.push(`${req.rawHeaders[n]}: ${req.rawHeaders[n + 1]}`);
    engine.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) engine.write(head);
    engine.pipe(client);
    client.pipe(engine);
  });
  server.on("connection", (s: net.Socket) => {
    open.add(s);
    s.on("close", () => open.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, resolve);
  });
  return {
    socket,
    address: `docker-engine://${socket}`,
    injected,
    seen,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
