import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { stringify } from "yaml";
import { freePort } from "./free-port.js";
import { logTail, spawnDetached, stopProcess, waitUntilReady } from "./processes.js";

export interface RegistryInstance {
  /** `127.0.0.1:<port>`, plain HTTP. */
  addr: string;
  pid: number;
  stop(): Promise<void>;
}

/** Bearer-token auth (the token server is someone else's): goes into the config's `auth.token` section. */
export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** Path of a PEM bundle with the certificate(s) that sign the tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  dir: string;
  /** Require HTTP basic auth with this one user. */
  htpasswd?: { username: string; password: string };
  tokenAuth?: RegistryTokenAuth;
  /** `storage.delete.enabled` (Distribution's default is off: every DELETE answers 405). Default true. */
  deletes?: boolean;
}

/** What `stopRegistry` needs, as recorded in stack.json. */
export interface RegistryRecord {
  pid: number;
  configFile: string;
}

const ATTEMPTS = 3;

/** Starts Debian's docker-registry (distribution 2.8) on a free 127.0.0.1 port, storing blobs in `dir`. */
export async function startRegistry(opts: RegistryOptions): Promise<RegistryInstance> {
  if (opts.htpasswd && opts.tokenAuth) throw new Error("startRegistry: choose htpasswd or tokenAuth, not both");
  await mkdir(join(opts.dir, "storage"), { recursive: true });
  let auth: Record<string, unknown> | undefined;
  if (opts.htpasswd) {
    const file = join(opts.dir, "htpasswd");
    const hash = await bcrypt.hash(opts.htpasswd.password, 10);
    await writeFile(file, `${opts.htpasswd.username}:${hash}\n`, { mode: 0o600 });
    auth = { htpasswd: { realm: "buildkit-bot test registry", path: file } };
  } else if (opts.tokenAuth) {
    const { realm, service, issuer, rootCertBundle } = opts.tokenAuth;
    auth = { token: { realm, service, issuer, rootcertbundle: rootCertBundle } };
  }

  for (let attempt = 1; ; attempt++) {
    const addr = `127.0.0.1:${await freePort()}`;
    const configFile = join(opts.dir, "config.yml");
    const config = {
      version: 0.1,
      log: { level: "info", accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(opts.dir, "storage") }, delete: { enabled: opts.deletes ?? true } },
      http: { addr },
      ...(auth ? { auth } : {}),
    };
    await writeFile(configFile, stringify(config));
    const proc = await spawnDetached("docker-registry", ["serve", configFile], {
      logFile: join(opts.dir, "registry.log"),
      cwd: opts.dir,
    });
    const record: RegistryRecord = { pid: proc.pid, configFile };
    try {
      await waitUntilReady({
        name: "docker-registry",
        proc,
        ready: async () => {
          const res = await fetch(`http://${addr}/v2/`, { signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          return res.status === 200 || res.status === 401;
        },
        timeoutMs: 30_000,
      });
    } catch (err) {
      await stopRegistry(record);
      if (attempt < ATTEMPTS && /address already in use/i.test(await logTail(proc.logFile))) continue;
      throw err;
    }
    return { addr, pid: proc.pid, stop: () => stopRegistry(record) };
  }
}

export async function stopRegistry(record: RegistryRecord): Promise<void> {
  await stopProcess(record.pid, { commandContains: record.configFile });
}
