import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeEngine {
  /** The unix socket it listens on. */
  socket: string;
  /** Every path asked, without the `/v1.NN` prefix, in order. */
  paths: string[];
  close(): Promise<void>;
}

/** An HTTP server on a unix socket standing in for a Docker Engine; `answer` gets the path without its API version. */
export async function startFakeEngine(answer: (path: string, res: http.ServerResponse) => void): Promise<FakeEngine> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-fake-engine-"));
  const socket = join(dir, "docker.sock");
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").replace(/^\/v1\.\d+/, "");
    paths.push(path);
    answer(path, res);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    paths,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Answers 200 with `body` as JSON and the given headers. */
export function answerJson(res: http.ServerResponse, body: unknown, headers: Record<string, string> = {}, status = 200): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
