import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { ValidateFunction } from "ajv/dist/2020.js";
import { createSchemaValidator, formatKeyPath, parseOperatorFile, readOperatorFileText } from "../config/index.js";
import type { KeyPath, OperatorFileFormat } from "../config/index.js";
import { BuildersFileError } from "./builders-file-error.js";
import type { BuildersFileIssue } from "./builders-file-error.js";

/** `schema/builders.schema.json`, shipped next to the tenants file's schema. */
export const BUILDERS_SCHEMA_URL = new URL("../../schema/builders.schema.json", import.meta.url);

/** One builder as the pool uses it: TLS paths resolved against the file's folder. */
export interface BuilderSpec {
  name: string;
  address: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  labels: Record<string, string>;
  /** Builds at once on this builder across every worker process; undefined: no limit. */
  maxConcurrentBuilds?: number;
  /** The only platforms it is given (narrowing what ListWorkers reports); undefined: all it reports. */
  platforms?: string[];
  /**
   * Whether the `BUILDKIT_TLS_*` environment variables apply (only to the BUILDKIT_HOST pool of one): a builder
   * of the file gets TLS from the file alone.
   */
  tlsFromEnv: boolean;
}

export interface BuildersConfig {
  /** The file's path, or `BUILDKIT_HOST`. */
  source: string;
  builders: BuilderSpec[];
  healthIntervalMs: number;
  failuresBeforeUnavailable: number;
}

interface RawBuilder {
  name: string;
  address: string;
  tls?: { ca?: string; cert?: string; key?: string; server_name?: string };
  labels?: Record<string, string>;
  max_concurrent_builds?: number;
  platforms?: string[];
}

interface RawBuildersFile {
  builders: RawBuilder[];
  health?: { interval_seconds?: number; failures_before_unavailable?: number };
}

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;
export const DEFAULT_FAILURES_BEFORE_UNAVAILABLE = 2;
/** The name of the one builder BUILDKIT_HOST makes without a builders file. */
export const DEFAULT_BUILDER_NAME = "default";

let validator: ValidateFunction | undefined;

export function buildersSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(BUILDERS_SCHEMA_URL, "utf8")) as Record<string, unknown>;
}

function buildersValidator(): ValidateFunction {
  validator ??= createSchemaValidator().compile(buildersSchema());
  return validator;
}

const BUILDERS_FILE: OperatorFileFormat<BuildersFileError> = {
  validator: buildersValidator,
  emptyReason: "a `builders` list",
  error: (file, issues) => new BuildersFileError(file, issues),
};

/** BUILDKIT_HOST as a pool of one (its TLS from the `BUILDKIT_TLS_*` variables, as before). */
export function singleBuilder(address: string): BuildersConfig {
  return {
    source: "BUILDKIT_HOST",
    builders: [{ name: DEFAULT_BUILDER_NAME, address, labels: {}, tlsFromEnv: true }],
    healthIntervalMs: DEFAULT_HEALTH_INTERVAL_MS,
    failuresBeforeUnavailable: DEFAULT_FAILURES_BEFORE_UNAVAILABLE,
  };
}

/** Reads and validates the builders file at `path`; throws `BuildersFileError` listing every problem with its line. */
export function readBuildersFile(path: string): BuildersConfig {
  return parseBuildersFile(readOperatorFileText(path, BUILDERS_FILE), path, { checkFiles: true });
}

/**
 * Validates the text of a builders file (`path` names it in messages and anchors relative TLS paths). With
 * `checkFiles`, every TLS file must be readable now, so a typo stops the app at start-up rather than failing builds.
 */
export function parseBuildersFile(text: string, path: string, options: { checkFiles?: boolean } = {}): BuildersConfig {
  const { data, locator } = parseOperatorFile(text, path, BUILDERS_FILE);
  const raw = data as RawBuildersFile;
  const issues: BuildersFileIssue[] = [];
  const report = (keyPath: KeyPath, reason: string): void => {
    issues.push({ ...locator.locate(keyPath), reason: `${formatKeyPath(keyPath)}: ${reason}` });
  };
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const base = dirname(resolve(path));
  const builders = raw.builders.map((b, i): BuilderSpec => {
    const at: KeyPath = ["builders", i];
    const seenName = names.get(b.name);
    if (seenName === undefined) names.set(b.name, i);
    else report([...at, "name"], `"${b.name}" is already the name of builders[${seenName}] (line ${locator.locate(["builders", seenName]).line})`);
    const seenAddress = addresses.get(b.address);
    if (seenAddress === undefined) addresses.set(b.address, i);
    else report([...at, "address"], `${b.address} is already the address of builders[${seenAddress}] (line ${locator.locate(["builders", seenAddress]).line})`);
    let tls: BuilderSpec["tls"];
    if (b.tls) {
      if (!b.address.startsWith("tcp://")) report([...at, "tls"], "TLS applies only to tcp:// addresses");
      if ((b.tls.cert === undefined) !== (b.tls.key === undefined)) report([...at, "tls"], "`cert` and `key` go together (mutual TLS)");
      const file = (key: "ca" | "cert" | "key"): string | undefined => {
        const given = b.tls?.[key];
        if (given === undefined) return undefined;
        const full = isAbsolute(given) ? given : resolve(base, given);
        if (options.checkFiles) {
          try {
            accessSync(full, constants.R_OK);
          } catch (err) {
            report([...at, "tls", key], `${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
          }
        }
        return full;
      };
      const caFile = file("ca");
      const certFile = file("cert");
      const keyFile = file("key");
      tls = {
        ...(caFile ? { caFile } : {}),
        ...(certFile ? { certFile } : {}),
        ...(keyFile ? { keyFile } : {}),
        ...(b.tls.server_name ? { serverName: b.tls.server_name } : {}),
      };
    }
    return {
      name: b.name,
      address: b.address,
      ...(tls ? { tls } : {}),
      labels: { ...b.labels },
      ...(b.max_concurrent_builds !== undefined ? { maxConcurrentBuilds: b.max_concurrent_builds } : {}),
      ...(b.platforms ? { platforms: [...b.platforms] } : {}),
      tlsFromEnv: false,
    };
  });
  if (issues.length > 0) throw new BuildersFileError(path, issues);
  return {
    source: path,
    builders,
    healthIntervalMs: Math.round((raw.health?.interval_seconds ?? DEFAULT_HEALTH_INTERVAL_MS / 1000) * 1000),
    failuresBeforeUnavailable: raw.health?.failures_before_unavailable ?? DEFAULT_FAILURES_BEFORE_UNAVAILABLE,
  };
}
