import { request } from "node:http";

/** One plain HTTP request to a Docker Engine over its unix socket. */
export function engineRequest(
  socketPath: string,
  path: string,
  opts: { method?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: opts.method ?? "GET", headers: { Host: "docker" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5_000, () => req.destroy(new Error(`timeout on ${path} via ${socketPath}`)));
    req.on("error", reject);
    req.end();
  });
}
