import http from "node:http";
import type { AddressInfo } from "node:net";

export interface EngineBuildStatus {
  /** Each StatusResponse exactly as the Engine sent it (base64 protobuf). */
  messages: string[];
  /** The build's error text, when it failed. */
  error?: string;
}

/**
 * Runs one build on a Docker Engine and collects its raw BuildKit Status stream. `POST /build?version=2`
 * streams every StatusResponse as `{"id":"moby.buildkit.trace","aux":"<base64 protobuf>"}`; the Dockerfile is
 * served over HTTP as the remote context, so no session is needed.
 */
export async function engineBuildStatus(options: {
  socketPath: string;
  dockerfile: string;
  noCache?: boolean;
  buildArgs?: Record<string, string>;
  tag?: string;
  /** Registry refs to import build cache from (the Engine's `cachefrom`). */
  cacheFrom?: string[];
}): Promise<EngineBuildStatus> {
  const server = http.createServer((_req, res) => res.end(options.dockerfile));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const query = new URLSearchParams({ version: "2", remote: `http://127.0.0.1:${port}/Dockerfile`, rm: "1" });
    if (options.noCache) query.set("nocache", "1");
    if (options.buildArgs) query.set("buildargs", JSON.stringify(options.buildArgs));
    if (options.tag) query.set("t", options.tag);
    if (options.cacheFrom?.length) query.set("cachefrom", JSON.stringify(options.cacheFrom));
    return await new Promise<EngineBuildStatus>((resolve, reject) => {
      const result: EngineBuildStatus = { messages: [] };
      const req = http.request(
        { socketPath: options.socketPath, method: "POST", path: `/v1.41/build?${query}`, headers: { Host: "docker" } },
        (res) => {
          let buffered = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            buffered += chunk;
            let newline: number;
            while ((newline = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (!line) continue;
              const message = JSON.parse(line) as { id?: string; aux?: unknown; error?: string; message?: string };
              if (message.id === "moby.buildkit.trace" && typeof message.aux === "string") result.messages.push(message.aux);
              if (message.error) result.error = message.error;
              if (res.statusCode !== 200 && message.message) result.error = message.message;
            }
          });
          res.on("end", () => resolve(result));
          res.on("error", reject);
        },
      );
      req.setTimeout(120_000, () => req.destroy(new Error("the Engine build did not finish within 120 s")));
      req.on("error", reject);
      req.end();
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Removes an image from the Engine (ignores "no such image"). */
export async function removeEngineImage(socketPath: string, name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      { socketPath, method: "DELETE", path: `/v1.41/images/${encodeURIComponent(name)}?force=1`, headers: { Host: "docker" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve());
      },
    );
    req.on("error", reject);
    req.end();
  });
}
