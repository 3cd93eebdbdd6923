import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, resolve } from "node:path";
import type { BuildContext, BuildRequest, RegistryCredential } from "@buildkit-bot/buildkit";
import { buildOptions } from "@buildkit-bot/buildkit";
import {
  asUsage,
  parseBuildArgs,
  parseCacheFrom,
  parseCacheTo,
  parseLabels,
  parseOutput,
  parsePlatforms,
  parseSecrets,
  parseTags,
} from "./build-flags.js";
import type { BuildCommand, CliCommand, ProgressMode } from "./cli-command.js";
import { PROGRESS_MODES } from "./cli-command.js";
import { readDockerConfigCredentials } from "./docker-config.js";
import type { CommandLine } from "./command-line.js";
import { readCommandLine } from "./command-line.js";
import type { ParsedFlags } from "./flag-parser.js";
import { flagValue, flagValues } from "./flag-parser.js";
import { UsageError } from "./usage-error.js";

const { checkGitRef, checkSubdir, checkTarget, parseRepositoryUrl: parseRepositoryUrlRule } = buildOptions;

/** buildctl's default when neither `--addr` nor `BUILDKIT_HOST` is given. */
export const DEFAULT_ADDR = "unix:///run/buildkit/buildkitd.sock";

export interface ParseEnvironment {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  homedir?: string;
  /** Reads all of stdin (for `--registry-password-stdin`). */
  readStdin?: () => Promise<string>;
}

/**
 * Turns `buildkit-bot …` arguments (without the node/script prefix) into a command, or throws a UsageError
 * naming the bad flag. Reads what the flags point at (secret files, stdin, Docker's config) but connects to nothing.
 */
export async function parseCommandLine(argv: readonly string[], environment: ParseEnvironment = {}): Promise<CliCommand> {
  return commandOf(readCommandLine(argv), environment);
}

/** The command of a command line read by `readCommandLine`, with what its flags point at read. */
export async function commandOf(line: CommandLine, environment: ParseEnvironment = {}): Promise<CliCommand> {
  const env = environment.env ?? process.env;
  switch (line.kind) {
    case "help":
      return line;
    case "health":
      noPositionals(line.flags, "health");
      return { kind: "health", addr: address(line.flags, env), json: line.flags.booleans.has("json") };
    case "build":
      return parseBuild(line.source, line.flags, environment, env);
  }
}

async function parseBuild(
  source: "local" | "github",
  flags: ParsedFlags,
  environment: ParseEnvironment,
  env: NodeJS.ProcessEnv,
): Promise<BuildCommand> {
  const cwd = environment.cwd ?? process.cwd();
  const request: BuildRequest = source === "local" ? await localRequest(flags, cwd) : githubRequest(flags, env);

  const buildArgs = parseBuildArgs(flagValues(flags, "build-arg"), env);
  if (Object.keys(buildArgs).length > 0) request.buildArgs = buildArgs;
  const target = flagValue(flags, "target");
  if (target !== undefined) {
    request.target = asUsage(() => checkTarget(target, "--target"));
  }
  const labels = parseLabels(flagValues(flags, "label"));
  if (Object.keys(labels).length > 0) request.labels = labels;
  const platforms = parsePlatforms(flagValues(flags, "platform"));
  if (platforms.length > 0) request.platforms = platforms;
  const secrets = await parseSecrets(flagValues(flags, "secret"), env, cwd);
  if (Object.keys(secrets).length > 0) request.secrets = secrets;
  const cacheImports = parseCacheFrom(flagValues(flags, "cache-from"), cwd);
  if (cacheImports.length > 0) request.cacheImports = cacheImports;
  const cacheExports = parseCacheTo(flagValues(flags, "cache-to"), cwd);
  if (cacheExports.length > 0) request.cacheExports = cacheExports;
  if (flags.booleans.has("no-cache")) request.noCache = true;
  if (flags.booleans.has("pull")) request.pull = true;
  const output = parseOutput(flagValue(flags, "output"), flags.booleans.has("push"), parseTags(flagValues(flags, "tag")), cwd);
  if (output) request.output = output;

  const notes: string[] = [];
  const registryAuth = await registryCredentials(flags, environment, env, notes);
  if (registryAuth.length > 0) request.registryAuth = registryAuth;

  const json = flags.booleans.has("json");
  // With --json, stdout carries the result alone and stderr stays quiet unless --progress asks otherwise.
  const progress = flagValue(flags, "progress") ?? (json ? "quiet" : "auto");
  if (!PROGRESS_MODES.includes(progress as ProgressMode)) {
    throw new UsageError(`--progress must be one of ${PROGRESS_MODES.join(", ")} (got "${progress}")`, "--progress");
  }
  const command: BuildCommand = {
    kind: "build",
    addr: address(flags, env),
    request,
    progress: progress as ProgressMode,
    json,
    notes,
  };
  return command;
}

async function localRequest(flags: ParsedFlags, cwd: string): Promise<BuildRequest> {
  const positional = flags.positionals;
  if (positional.length > 1) throw new UsageError(`build local takes one context directory (got ${positional.join(" ")})`);
  const given = flagValue(flags, "context") ?? positional[0];
  if (given === undefined) throw new UsageError("build local needs --context DIR", "--context");
  if (flagValue(flags, "context") !== undefined && positional.length > 0) {
    throw new UsageError(`unexpected argument "${positional[0]}" next to --context`, "--context");
  }
  const dir = resolve(cwd, given);
  if (!(await isDirectory(dir))) throw new UsageError(`--context ${given}: not a directory`, "--context");
  const context: BuildContext = { type: "local", dir };
  const request: BuildRequest = { context };
  const file = flagValue(flags, "file");
  if (file !== undefined) {
    const path = resolve(cwd, file);
    if (!(await isFile(path))) throw new UsageError(`--file ${file}: no such file`, "--file");
    context.dockerfileDir = dirname(path);
    request.dockerfile = basename(path);
  }
  return request;
}

function githubRequest(flags: ParsedFlags, env: NodeJS.ProcessEnv): BuildRequest {
  const [url, ...extra] = flags.positionals;
  if (url === undefined) throw new UsageError("build github needs a repository URL, e.g. https://github.com/owner/repo");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const parsed = parseRepositoryUrl(url);
  const ref = flagValue(flags, "git-ref") ?? parsed.ref ?? "HEAD";
  asUsage(() => checkGitRef(ref, "--git-ref"));
  const context: BuildContext = { type: "git", remote: parsed.remote, ref };
  const subdir = flagValue(flags, "subdir") ?? parsed.subdir;
  if (subdir !== undefined) {
    context.subdir = asUsage(() => checkSubdir(subdir, "--subdir"));
  }
  const request: BuildRequest = { context };
  const file = flagValue(flags, "file");
  if (file !== undefined) request.dockerfile = file;
  const token = flagValue(flags, "token") ?? env.GITHUB_TOKEN;
  if (token) request.gitAuthToken = token;
  return request;
}

/** `parseRepositoryUrl` with the CLI's names for its options. */
export function parseRepositoryUrl(url: string): { remote: string; ref?: string; subdir?: string } {
  return asUsage(() => parseRepositoryUrlRule(url, { token: "--token", tokenHint: "--token or GITHUB_TOKEN" }));
}

async function registryCredentials(
  flags: ParsedFlags,
  environment: ParseEnvironment,
  env: NodeJS.ProcessEnv,
  notes: string[],
): Promise<RegistryCredential[]> {
  const host = flagValue(flags, "registry-host");
  const username = flagValue(flags, "registry-user");
  const fromStdin = flags.booleans.has("registry-password-stdin");
  const credentials: RegistryCredential[] = [];
  if (host !== undefined || username !== undefined || fromStdin) {
    const missing = [
      host === undefined ? "--registry-host" : undefined,
      username === undefined ? "--registry-user" : undefined,
      fromStdin ? undefined : "--registry-password-stdin",
    ].filter((f): f is string => f !== undefined);
    if (missing.length > 0) throw new UsageError(`registry credentials need ${missing.join(" and ")} as well`, missing[0]);
    const readStdin = environment.readStdin ?? readAllStdin;
    // Like `docker login --password-stdin`: trailing newlines are not part of the password.
    const password = (await readStdin()).replace(/[\r\n]+$/, "");
    if (password === "") throw new UsageError("--registry-password-stdin: stdin was empty", "--registry-password-stdin");
    credentials.push({ host: host as string, username: username as string, password });
  }
  const config = await readDockerConfigCredentials(env, environment.homedir ?? homedir());
  notes.push(...config.notes);
  for (const credential of config.credentials) {
    if (!credentials.some((c) => c.host.toLowerCase() === credential.host)) credentials.push(credential);
  }
  return credentials;
}

function address(flags: ParsedFlags, env: NodeJS.ProcessEnv): string {
  const addr = flagValue(flags, "addr") ?? env.BUILDKIT_HOST ?? DEFAULT_ADDR;
  if (addr.trim() === "") throw new UsageError("--addr must not be empty", "--addr");
  return addr;
}

function noPositionals(flags: ParsedFlags, command: string): void {
  if (flags.positionals.length > 0) throw new UsageError(`${command} takes no arguments (got "${flags.positionals[0]}")`);
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError("--registry-password-stdin: pipe the password into stdin", "--registry-password-stdin");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
