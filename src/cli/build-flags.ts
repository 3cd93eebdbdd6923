import { resolve } from "node:path";
import type { BuildOutput, CacheEntry } from "@buildkit-bot/buildkit";
import { buildOptions, InvalidOptionError } from "@buildkit-bot/buildkit";
import { UsageError } from "./usage-error.js";

const {
  checkImageNames,
  combineOutput,
  isBuildArgName,
  isLabelKey,
  parseCacheEntry,
  parseOutputSpec,
  parsePlatforms: parsePlatformList,
  readSecretEnv,
  readSecretFile,
  splitCsv,
  splitKeyValue,
} = buildOptions;

// The rules themselves live in src/buildkit/build-options.ts (shared with the BuildConfig builder); this file
// reads flag values and turns their InvalidOptionErrors into UsageErrors naming the flag.

/** Runs a shared option rule; its InvalidOptionError becomes a UsageError naming the flag. */
export function asUsage<T>(rule: () => T): T {
  try {
    return rule();
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new UsageError(error.message, error.option);
    throw error;
  }
}

/** `--build-arg K=V` / `--build-arg K` (value from the environment; skipped when unset, like docker). */
export function parseBuildArgs(values: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const [key, given] = splitKeyValue(value);
    if (!isBuildArgName(key)) throw new UsageError(`--build-arg "${value}": expected NAME=VALUE or NAME`, "--build-arg");
    const resolved = given ?? env[key];
    if (resolved !== undefined) args[key] = resolved;
  }
  return args;
}

/** `--label K=V` (`K` alone is an empty label). */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const [key, given] = splitKeyValue(value);
    if (!isLabelKey(key)) throw new UsageError(`--label "${value}": expected KEY=VALUE`, "--label");
    labels[key] = given ?? "";
  }
  return labels;
}

/** `--platform linux/amd64 --platform linux/arm64,linux/arm/v7` → deduplicated list. */
export function parsePlatforms(values: readonly string[]): string[] {
  return asUsage(() => parsePlatformList(values, "--platform"));
}

/**
 * `--secret id=ID,src=FILE` / `id=ID,env=VAR` (also `source=`, `type=file|env`); `id=ID` alone reads the
 * environment variable ID. Files are read now; their content never appears in messages.
 */
export async function parseSecrets(values: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Record<string, Buffer>> {
  const secrets: Record<string, Buffer> = {};
  for (const value of values) {
    const fields = new Map(splitCsv(value).map((f) => splitKeyValue(f)));
    for (const key of fields.keys()) {
      if (!["id", "src", "source", "env", "type"].includes(key)) throw new UsageError(`--secret: unknown key "${key}"`, "--secret");
    }
    const id = fields.get("id");
    if (!id) throw new UsageError(`--secret "${value}": id=ID is required`, "--secret");
    const type = fields.get("type");
    if (type !== undefined && type !== "file" && type !== "env") throw new UsageError(`--secret ${id}: type must be file or env`, "--secret");
    const src = fields.get("src") ?? fields.get("source");
    let envName = fields.get("env");
    if (type === "env" && envName === undefined) envName = src ?? id;
    if (src !== undefined && envName === undefined) {
      secrets[id] = asUsage(() => readSecretFile(id, resolve(cwd, src), "--secret", src));
      continue;
    }
    secrets[id] = asUsage(() => readSecretEnv(id, envName ?? id, env, "--secret"));
  }
  return secrets;
}

/** `--cache-from type=registry,ref=REF`, `type=local,src=DIR` or a bare REF; relative DIRs resolve against `cwd`. */
export function parseCacheFrom(values: readonly string[], cwd: string): CacheEntry[] {
  return values.map((value) => asUsage(() => parseCacheEntry(value, "import", "--cache-from", cwd)));
}

/** `--cache-to type=registry,ref=REF[,mode=max]`, `type=local,dest=DIR[,mode=max]` or `type=inline`. */
export function parseCacheTo(values: readonly string[], cwd: string): CacheEntry[] {
  return values.map((value) => asUsage(() => parseCacheEntry(value, "export", "--cache-to", cwd)));
}

/**
 * `--output` (with `--push` and `--tag`) → the request's output. Without either, tags mean a local image and no
 * tags mean no export (the result stays in the build cache).
 */
export function parseOutput(output: string | undefined, push: boolean, tags: readonly string[], cwd: string): BuildOutput | undefined {
  return asUsage(() =>
    combineOutput(output === undefined ? undefined : parseOutputSpec(output, cwd, "--output"), push, tags, {
      output: "--output",
      push: "--push",
      tag: "--tag",
    }),
  );
}

export function parseTags(values: readonly string[]): string[] {
  return asUsage(() => checkImageNames(values, "--tag"));
}
