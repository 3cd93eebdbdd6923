import { mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "./free-port.js";
import { logTail, spawnDetached, stopProcess, waitUntilReady } from "./processes.js";

export interface RedisInstance {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** What `stopRedis` needs, as recorded in stack.json. */
export interface RedisRecord {
  pid: number;
  port: number;
}

const ATTEMPTS = 3;

/** Starts Debian's redis-server on a free 127.0.0.1 port, persisting (AOF) into `dir`. */
export async function startRedis(opts: { dir: string }): Promise<RedisInstance> {
  await mkdir(opts.dir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = await spawnDetached(
      "redis-server",
      [
        "--bind", "127.0.0.1",
        "--port", String(port),
        "--dir", opts.dir,
        "--appendonly", "yes",
        "--maxmemory-policy", "noeviction",
        "--save", "",
        "--daemonize", "no",
      ],
      { logFile: join(opts.dir, "redis.log"), cwd: opts.dir },
    );
    try {
      await waitUntilReady({ name: "redis-server", proc, ready: () => redisPing(port), timeoutMs: 30_000 });
    } catch (err) {
      await stopRedis({ pid: proc.pid, port });
      // Another process may have taken the port between freePort() and the bind.
      if (attempt < ATTEMPTS && /address already in use/i.test(await logTail(proc.logFile))) continue;
      throw err;
    }
    const record = { pid: proc.pid, port };
    return { url: `redis://127.0.0.1:${port}`, port, pid: proc.pid, stop: () => stopRedis(record) };
  }
}

export async function stopRedis(record: RedisRecord): Promise<void> {
  // redis-server rewrites its process title to "redis-server 127.0.0.1:<port>".
  await stopProcess(record.pid, { commandContains: `:${record.port}` });
}

/** Sends a raw RESP `PING`; true on `+PONG`. */
export function redisPing(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}

