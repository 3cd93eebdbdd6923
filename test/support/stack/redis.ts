import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "./free-port.js";
import { isRunning, logTail, spawnDetached, stopProcess, waitUntilReady } from "./processes.js";
import type { DetachedProcess } from "./processes.js";

export interface RedisInstance {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The current process (a new one after `restart`). */
  pid: number;
  stop(): Promise<void>;
  /** SIGKILLs the server: no shutdown, no final AOF flush beyond what `appendfsync everysec` already wrote. */
  kill9(): Promise<void>;
  /** Starts the server again on the same port and directory, loading its AOF; resolves once it answers PING. */
  restart(): Promise<void>;
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
    let proc: DetachedProcess;
    try {
      proc = await spawnRedis(opts.dir, port);
    } catch (err) {
      // Another process may have taken the port between freePort() and the bind.
      if (attempt < ATTEMPTS && /address already in use/i.test(await logTail(join(opts.dir, "redis.log")))) continue;
      throw err;
    }
    const record = { pid: proc.pid, port };
    const instance: RedisInstance = {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: proc.pid,
      stop: () => stopRedis(record),
      async kill9() {
        if (!isRunning(record.pid) || !commandMentionsPort(record)) return;
        process.kill(record.pid, "SIGKILL");
        for (let i = 0; i < 500 && isRunning(record.pid); i++) await new Promise((r) => setTimeout(r, 10));
      },
      async restart() {
        const next = await spawnRedis(opts.dir, port);
        record.pid = next.pid;
        instance.pid = next.pid;
      },
    };
    return instance;
  }
}

/** redis-server on 127.0.0.1:`port`, AOF in `dir` (`appendfsync everysec`, Redis's default, said explicitly). */
async function spawnRedis(dir: string, port: number): Promise<DetachedProcess> {
  const proc = await spawnDetached(
    "redis-server",
    [
      "--bind", "127.0.0.1",
      "--port", String(port),
      "--dir", dir,
      "--appendonly", "yes",
      "--appendfsync", "everysec",
      "--maxmemory-policy", "noeviction",
      "--save", "",
      "--daemonize", "no",
    ],
    { logFile: join(dir, "redis.log"), cwd: dir },
  );
  try {
    await waitUntilReady({ name: "redis-server", proc, ready: () => redisPing(port), timeoutMs: 30_000 });
  } catch (err) {
    await stopRedis({ pid: proc.pid, port });
    throw err;
  }
  return proc;
}

function commandMentionsPort(record: RedisRecord): boolean {
  try {
    return readFileSync(`/proc/${record.pid}/cmdline`, "utf8").includes(`:${record.port}`) || readFileSync(`/proc/${record.pid}/comm`, "utf8").startsWith("redis-server");
  } catch {
    return false;
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

