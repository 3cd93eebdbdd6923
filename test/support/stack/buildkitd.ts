import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "smol-toml";
import { BuildKitClient } from "../../../src/buildkit/index.js";
import { createBridge, deleteBridge } from "./bridge.js";
import type { Bridge } from "./bridge.js";
import { freePort } from "./free-port.js";
import { StackPartError, logTail, spawnDetached, stopProcess, waitUntilReady } from "./processes.js";
import { runCommand } from "./run-command.js";
import { unmountAllUnder } from "./unmount.js";

/** The daemon config the compose deployment mounts; every stack daemon starts from it. */
export const SHIPPED_BUILDKITD_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "deploy", "buildkitd.toml");

export interface BuildkitdInstance {
  /** `tcp://127.0.0.1:<port>` (plaintext, loopback only). */
  address: string;
  /** `unix://<dir>/buildkitd.sock`: the same daemon over its unix socket. */
  unixAddress: string;
  /** `buildkitd --version`, e.g. `buildkitd github.com/moby/buildkit v0.24.0 b772c31…`. */
  version: string;
  pid: number;
  bridge: string;
  stop(): Promise<void>;
}

/** What `stopBuildkitd` needs, as recorded in stack.json. */
export interface BuildkitdRecord {
  pid: number;
  dir: string;
  bridge: string;
}

// Unix socket paths are limited to 108 bytes.
const MAX_SOCKET_PATH = 100;
const ATTEMPTS = 3;
const RUNC = "/usr/sbin/runc";
const CNI_PLUGINS = "/usr/lib/cni";

/**
 * Starts a standalone buildkitd (OCI worker, Debian's runc) with everything of its own under `dir`: state root,
 * unix socket, a CNI bridge on a /24 nothing else uses, and a free loopback tcp port. Several run side by side.
 * The config is the shipped `deploy/buildkitd.toml`. Root, addresses and runc are overridden on the command line;
 * the CNI network goes into a copy of the shipped file, because buildkitd's `--oci-cni-config-path` flag is lost
 * (cmd/buildkitd/main_oci_worker.go reads it as `oci-cni-worker-path`, an empty string, up to at least v0.24.0).
 */
export async function startBuildkitd(opts: { dir: string; binary: string; /** More flags, e.g. `--oci-worker-platform linux/arm64`. */ args?: readonly string[] }): Promise<BuildkitdInstance> {
  const dir = resolve(opts.dir);
  const socket = join(dir, "buildkitd.sock");
  if (socket.length > MAX_SOCKET_PATH) throw new StackPartError(`buildkitd dir ${dir} is too long for a unix socket`);
  await mkdir(dir, { recursive: true });
  const version = (await runCommand(opts.binary, ["--version"])).trim();

  const bridge = await createBridge();
  const record: BuildkitdRecord = { pid: 0, dir, bridge: bridge.name };
  try {
    const cniConfig = join(dir, "cni.conflist");
    await writeFile(cniConfig, cniConflist(bridge, join(dir, "cni-ipam")));
    const config = join(dir, "buildkitd.toml");
    await writeFile(config, await configWithCni(cniConfig));
    for (let attempt = 1; ; attempt++) {
      const address = `tcp://127.0.0.1:${await freePort()}`;
      const proc = await spawnDetached(
        opts.binary,
        [
          "--config", config,
          "--root", join(dir, "root"),
          "--addr", `unix://${socket}`,
          "--addr", address,
          "--oci-worker-binary", RUNC,
          ...(opts.args ?? []),
        ],
        { logFile: join(dir, "buildkitd.log"), cwd: dir, env: withoutBuildkitVariables(process.env) },
      );
      record.pid = proc.pid;
      try {
        await waitUntilReady({ name: "buildkitd", proc, ready: () => answers(address), timeoutMs: 60_000, intervalMs: 200 });
      } catch (err) {
        await stopProcess(proc.pid, { graceMs: 5_000, commandContains: dir });
        if (attempt < ATTEMPTS && /address already in use/i.test(await logTail(proc.logFile))) continue;
        throw err;
      }
      return { address, unixAddress: `unix://${socket}`, version, pid: proc.pid, bridge: bridge.name, stop: () => stopBuildkitd(record) };
    }
  } catch (err) {
    await stopBuildkitd(record).catch(() => undefined);
    throw err;
  }
}

/** Stops buildkitd by PID (SIGTERM, then SIGKILL), unmounts what it left under its dir and deletes its bridge. */
export async function stopBuildkitd(record: BuildkitdRecord): Promise<void> {
  if (record.pid > 0) await stopProcess(record.pid, { graceMs: 10_000, commandContains: record.dir });
  await unmountAllUnder(record.dir);
  await deleteBridge(record.bridge);
}

/** The shipped config with the OCI worker on our CNI network; every other setting as shipped. */
export async function configWithCni(cniConfigPath: string): Promise<string> {
  const config = parse(await readFile(SHIPPED_BUILDKITD_CONFIG, "utf8"));
  const worker = config.worker as Record<string, Record<string, unknown>> | undefined;
  if (!worker?.oci) throw new StackPartError(`${SHIPPED_BUILDKITD_CONFIG} has no [worker.oci] section`);
  worker.oci = { ...worker.oci, networkMode: "cni", cniConfigPath, cniBinaryPath: CNI_PLUGINS, cniPoolSize: 2 };
  return `# Generated from ${SHIPPED_BUILDKITD_CONFIG} with this stack's CNI network.\n${stringify(config)}\n`;
}

/** A bridge with no masquerading and host-local addresses on the bridge's own /24: no iptables rules at all. */
function cniConflist(bridge: Bridge, ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: `buildkit-${bridge.name}`,
      plugins: [
        {
          type: "bridge",
          bridge: bridge.name,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: bridge.subnet, gateway: bridge.gateway }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: ipamDir },
        },
        { type: "loopback" },
      ],
    },
    null,
    2,
  )}\n`;
}

async function answers(address: string): Promise<boolean> {
  const client = await BuildKitClient.connect(address, { connectTimeoutMs: 2_000 });
  await client.close();
  return true;
}

function withoutBuildkitVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (name.startsWith("BUILDKIT") || name.startsWith("DOCKER_")) delete copy[name];
  return copy;
}
