import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A pass-through proxy in front of a real registry (plain HTTP, on 127.0.0.1) that refuses to store a manifest
 * under some tags, as a registry with protected or immutable tags does: `PUT /v2/<repo>/manifests/<tag>` for a
 * refused tag gets 403 DENIED; everything else (blobs, other tags, reads) goes through unchanged, Host header
 * included, so the registry's upload locations point back at the proxy.
 */
export interface TagRefusingRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** The refused PUTs, as `<repo>:<tag>`. */
  refused: string[];
  close(): Promise<void>;
}

export async function startTagRefusingRegistry(target: string, refusedTags: readonly string[]): Promise<TagRefusingRegistry> {
  const [targetHost, targetPort] = target.split(":");
  const refused: string[] = [];
  const server = http.createServer((req, res) => {
    const m = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec((req.url ?? "").split("?")[0] ?? "");
    if (req.method === "PUT" && m && refusedTags.includes(m[2]!)) {
      refused.push(`${m[1]}:${m[2]}`);
      req.resume();
      res.writeHead(403, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "DENIED", message: `tag ${m[2]} is protected in this repository` }] }));
      return;
    }
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
