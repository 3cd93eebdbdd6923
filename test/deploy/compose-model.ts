import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/**
 * docker-compose.yml as Compose resolves it (`docker-compose … config`), for the deployment tests. Debian 12's
 * docker-compose 1.29 prints short-syntax volumes as `src:dst:mode` strings and Compose v2 as objects; both
 * are read here into one shape.
 */

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const COMPOSE_FILE = join(REPO_ROOT, "docker-compose.yml");
export const ENV_EXAMPLE = join(REPO_ROOT, ".env.example");

export interface Mount {
  type: "bind" | "volume";
  source: string;
  target: string;
  readOnly: boolean;
}

export interface Service {
  image?: string;
  build?: unknown;
  privileged?: boolean;
  command?: string[];
  environment: Record<string, string>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }>;
  secrets?: Array<string | { source: string; target?: string }>;
  volumes?: Array<string | { type: string; source: string; target: string; read_only?: boolean }>;
  ports?: unknown[];
  stop_grace_period?: string;
}

export interface ComposeModel {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
}

export interface ComposeRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `docker-compose -f docker-compose.yml --env-file FILE ARGS…` with nothing of this process's environment but PATH and HOME (and `extraEnv`). */
export function dockerCompose(envFile: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<ComposeRun> {
  return new Promise((resolve, reject) => {
    execFile(
      "docker-compose",
      ["-f", COMPOSE_FILE, "--env-file", envFile, ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(new Error(`docker-compose could not run (bash scripts/stack.sh deps installs Debian's docker-compose): ${err.message}`));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

export async function resolvedModel(envFile: string): Promise<ComposeModel> {
  const run = await dockerCompose(envFile, ["config"]);
  if (run.code !== 0) throw new Error(`docker-compose config failed (${run.code}):\n${run.stderr}`);
  return parse(run.stdout) as ComposeModel;
}

/** `.env.example` as ordered KEY=VALUE pairs (comments and blank lines dropped). */
export async function readEnvExample(): Promise<Map<string, string>> {
  const pairs = new Map<string, string>();
  for (const line of (await readFile(ENV_EXAMPLE, "utf8")).split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) pairs.set(m[1]!, m[2]!);
  }
  return pairs;
}

/** Writes `.env.example` with `values` filled in (an empty string leaves a variable empty) to `file`. */
export async function writeEnvFile(file: string, values: Record<string, string>): Promise<void> {
  const pairs = await readEnvExample();
  for (const [k, v] of Object.entries(values)) pairs.set(k, v);
  await writeFile(file, [...pairs].map(([k, v]) => `${k}=${v}\n`).join(""));
}

/** The variables the compose file marks required (`${NAME:?message}`). */
export async function requiredVariables(): Promise<string[]> {
  const text = await readFile(COMPOSE_FILE, "utf8");
  return [...new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*):\?/g)].map((m) => m[1]!))];
}

export function mounts(service: Service): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== "string") {
      return { type: v.type === "bind" ? "bind" : "volume", source: v.source, target: v.target, readOnly: v.read_only === true };
    }
    const [source = "", target = "", mode = "rw"] = v.split(":");
    return { type: source.startsWith("/") || source.startsWith(".") ? "bind" : "volume", source, target, readOnly: mode.split(",").includes("ro") };
  });
}

/** Where each of a service's secrets appears in its container. */
export function secretTargets(service: Service): Array<{ source: string; path: string }> {
  return (service.secrets ?? []).map((s) => {
    const source = typeof s === "string" ? s : s.source;
    const target = typeof s === "string" ? undefined : s.target;
    return { source, path: target?.startsWith("/") ? target : `/run/secrets/${target ?? source}` };
  });
}

/** The healthcheck's command as an argv (the `CMD` form), or undefined. */
export function healthcheckArgv(service: Service): string[] | undefined {
  const test = service.healthcheck?.test;
  if (!Array.isArray(test) || test[0] !== "CMD") return undefined;
  return test.slice(1);
}

/** A Compose duration (`130s`, `2m10s`, `1h`) in seconds. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  const parts = [...text.matchAll(/(\d+)(h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Compose duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}
