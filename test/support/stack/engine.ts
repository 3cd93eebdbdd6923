import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createBridge, deleteBridge } from "./bridge.js";
import { engineRequest } from "./engine-api.js";
import { StackPartError, processesMentioning, spawnDetached, stopProcess, waitUntilReady } from "./processes.js";
import { unmountAllUnder } from "./unmount.js";

export interface EngineInstance {
  /** Path of the Engine API unix socket. */
  socket: string;
  /** `docker-engine://<socket>`: the BuildKit address form our client accepts. */
  address: string;
  pid: number;
  /** The Linux bridge this Engine owns. */
  bridge: string;
  stop(): Promise<void>;
}

/** What `stopEngine` needs, as recorded in stack.json. */
export interface EngineRecord {
  pid: number;
  dir: string;
  bridge: string;
}

// Unix socket paths are limited to 108 bytes; containerd's lives deepest, under the exec root.
const MAX_SOCKET_PATH = 100;

/**
 * Starts Debian's dockerd (with its embedded BuildKit) with all of its state under `dir` and a bridge of its own,
 * so several Engines run side by side without touching the machine's default Docker.
 */
export async function startEngine(opts: { dir: string }): Promise<EngineInstance> {
  const dir = opts.dir;
  const socket = join(dir, "docker.sock");
  const execRoot = join(dir, "exec");
  const deepest = join(execRoot, "containerd", "containerd.sock.ttrpc");
  if (deepest.length > MAX_SOCKET_PATH) {
    throw new StackPartError(`engine dir ${dir} is too long for unix sockets (${deepest} > ${MAX_SOCKET_PATH} chars)`);
  }
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, "daemon.json");
  // Our own (empty) config, so /etc/docker/daemon.json on the machine cannot change this Engine.
  await writeFile(configFile, "{}\n");

  const bridge = await createBridge();
  const record: EngineRecord = { pid: 0, dir, bridge: bridge.name };
  try {
    const proc = await spawnDetached(
      "dockerd",
      [
        "--config-file", configFile,
        "--data-root", join(dir, "data"),
        "--exec-root", execRoot,
        "-H", `unix://${socket}`,
        "--pidfile", join(dir, "docker.pid"),
        "--iptables=false",
        "--ip-masq=false",
        `--bridge=${bridge.name}`,
      ],
      {
        logFile: join(dir, "dockerd.log"),
        cwd: dir,
        env: {
          ...withoutDockerVariables(process.env),
          // Never -1 ("unlimited"): BuildKit 0.8 misbehaves with it.
          BUILDKIT_STEP_LOG_MAX_SIZE: "2147483647",
          BUILDKIT_STEP_LOG_MAX_SPEED: "2147483647",
        },
      },
    );
    record.pid = proc.pid;
    await waitUntilReady({
      name: "dockerd",
      proc,
      ready: async () => {
        const { status, body } = await engineRequest(socket, "/_ping");
        return status === 200 && body === "OK";
      },
      timeoutMs: 90_000,
    });
  } catch (err) {
    await stopEngine(record).catch(() => undefined);
    throw err;
  }
  return {
    socket,
    address: `docker-engine://${socket}`,
    pid: record.pid,
    bridge: bridge.name,
    stop: () => stopEngine(record),
  };
}

/** Stops dockerd, then anything of it still alive (containerd, shims), unmounts its state, deletes its bridge. */
export async function stopEngine(record: EngineRecord): Promise<void> {
  if (record.pid > 0) await stopProcess(record.pid, { graceMs: 30_000, commandContains: record.dir });
  // containerd and its shims name the exec root's containerd directory in their command lines.
  const containerdDir = join(record.dir, "exec", "containerd") + "/";
  for (const leftover of processesMentioning(containerdDir)) {
    if (!/^\S*containerd/.test(leftover.cmdline)) continue;
    await stopProcess(leftover.pid, { graceMs: 5_000, commandContains: containerdDir });
  }
  await unmountAllUnder(record.dir);
  await deleteBridge(record.bridge);
}

function withoutDockerVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (name.startsWith("DOCKER_")) delete copy[name];
  return copy;
}
