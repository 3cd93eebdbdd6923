import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as Library from "@buildkit-bot/buildkit";
import type { BuildRequest, BuildResult } from "@buildkit-bot/buildkit";
import type { BuildCommand, HealthCommand } from "./cli-command.js";
import { readCommandLine } from "./command-line.js";
import { ExitCode } from "./exit-codes.js";
import { answerIsIPv6WithoutPattern } from "./quick-ipv6-check.js";
import type { ParseEnvironment } from "./parse-command.js";
import { UsageError } from "./usage-error.js";

type Lib = typeof Library;

export interface CliIo extends ParseEnvironment {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Aborts a running build (the launcher wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
}

/** Every message the CLI prints about a failure starts with this (usage errors, build and daemon failures). */
const ERROR_PREFIX = "error: ";

/**
 * Runs one `buildkit-bot …` invocation and returns its exit code (see ExitCode). The command line is read first
 * with nothing of the library loaded, so `--help` and flag mistakes answer without loading gRPC; the library and
 * the request builder are imported only for a command that runs.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command;
  let lib: Lib;
  try {
    const line = readCommandLine(argv);
    if (line.kind === "help") {
      io.stdout.write(line.text);
      return ExitCode.Ok;
    }
    answerIsIPv6WithoutPattern();
    const [loaded, { commandOf }] = await Promise.all([import("@buildkit-bot/buildkit"), import("./parse-command.js")]);
    lib = loaded;
    try {
      command = await commandOf(line, io);
    } catch (error) {
      if (error instanceof lib.InvalidRequestError) throw new UsageError(error.message);
      throw error;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${ERROR_PREFIX}${error.message}\nRun "buildkit-bot --help" for usage.\n`);
      return ExitCode.Usage;
    }
    throw error;
  }
  switch (command.kind) {
    case "help":
      io.stdout.write(command.text);
      return ExitCode.Ok;
    case "health":
      return runHealth(lib, command, io);
    case "build":
      return runBuild(lib, command, io);
  }
}

async function connect(lib: Lib, addr: string, io: CliIo): Promise<Library.BuildKitClient> {
  return lib.BuildKitClient.connect(addr, { env: io.env ?? process.env });
}

async function runHealth(lib: Lib, command: HealthCommand, io: CliIo): Promise<number> {
  let client: Library.BuildKitClient | undefined;
  try {
    client = await connect(lib, command.addr, io);
    const health = await client.health();
    if (command.json) io.stdout.write(`${JSON.stringify({ ok: true, ...health })}\n`);
    else {
      const version = [health.version?.buildkit && `BuildKit ${health.version.buildkit}`, health.version?.engine && `Engine ${health.version.engine}`]
        .filter(Boolean)
        .join(", ");
      io.stdout.write(`${health.daemon} at ${health.address}${version ? ` (${version})` : ""}\n`);
      for (const worker of health.workers) io.stdout.write(`  worker ${worker.id}: ${worker.platforms.join(", ")}\n`);
    }
    return ExitCode.Ok;
  } catch (error) {
    return await reportFailure(lib, error, { json: command.json, logShown: false }, io);
  } finally {
    await client?.close();
  }
}

async function runBuild(lib: Lib, command: BuildCommand, io: CliIo): Promise<number> {
  // With --json, stdout carries the JSON result and nothing else is printed unless --progress asked for it.
  if (!command.json) {
    for (const note of command.notes) io.stderr.write(`note: ${note}\n`);
    if (!command.request.output) {
      io.stderr.write("warning: no output given (-t, -o or --push): the result stays in the build cache only\n");
    }
  }
  let client: Library.BuildKitClient | undefined;
  const progress = await progressHandler(lib, command, io);
  const dockerfileText = localDockerfileText(command.request);
  try {
    client = await connect(lib, command.addr, io);
    const result = await client.solve(command.request, {
      onProgress: progress.handler,
      ...(io.signal ? { signal: io.signal } : {}),
      dockerfileText,
    });
    progress.stop();
    writeResult(result, command, io);
    return ExitCode.Ok;
  } catch (error) {
    progress.stop();
    return await reportFailure(lib, error, { json: command.json, logShown: progress.showsFailedLog, dockerfileText: await dockerfileText }, io);
  } finally {
    await client?.close();
  }
}

interface ProgressView {
  handler: Library.ProgressHandler;
  /** Ends the view: the live view draws its last state, the plain one repeats failed steps' last log lines. */
  stop(): void;
  /** The view has shown a failed step's log tail itself. */
  showsFailedLog: boolean;
}

// The terminal view and the Dockerfile excerpt load only when used: every module a run loads costs start-up time.
async function progressHandler(lib: Lib, command: BuildCommand, io: CliIo): Promise<ProgressView> {
  const stderr = io.stderr as NodeJS.WriteStream;
  const mode = command.progress === "auto" ? (stderr.isTTY ? "tty" : "plain") : command.progress;
  switch (mode) {
    case "tty": {
      const { ttyProgress } = await import("./tty-progress.js");
      return { ...ttyProgress(stderr), showsFailedLog: false };
    }
    case "plain": {
      const plain = lib.consoleProgress(stderr);
      return { handler: plain, stop: () => plain.end(), showsFailedLog: true };
    }
    case "json":
      return { handler: lib.jsonLinesProgress(stderr), stop: () => undefined, showsFailedLog: false };
    default:
      return { handler: lib.silentProgress, stop: () => undefined, showsFailedLog: false };
  }
}

function writeResult(result: BuildResult, command: BuildCommand, io: CliIo): void {
  if (command.json) {
    io.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
    return;
  }
  const output = command.request.output;
  const lines: string[] = [];
  if (output?.type === "image") lines.push(`${output.push ? "pushed" : "built"} ${result.names.join(", ") || "image"}`);
  if (output?.type === "local" || output?.type === "tar") lines.push(`exported to ${output.dest}`);
  if (result.digest) lines.push(`digest: ${result.digest}`);
  lines.push(`steps: ${result.steps.total} (${result.steps.cached} cached), ${(result.timings.totalMs / 1000).toFixed(1)}s`);
  // With a tar streamed to stdout, stdout carries the archive only.
  const out = output?.type === "tar" && output.dest === "-" ? io.stderr : io.stdout;
  out.write(`${lines.join("\n")}\n`);
}

interface FailureView {
  json: boolean;
  /** The progress already printed the failed step's last log lines. */
  logShown: boolean;
  dockerfileText?: string;
}

async function reportFailure(lib: Lib, error: unknown, view: FailureView, io: CliIo): Promise<number> {
  const exitCode =
    error instanceof lib.ConnectionError
      ? ExitCode.DaemonUnreachable
      : error instanceof lib.InvalidRequestError
        ? ExitCode.Usage
        : ExitCode.BuildFailed;
  const message = error instanceof Error ? error.message : String(error);
  if (view.json) {
    const detail: Record<string, unknown> = { message };
    if (error instanceof lib.BuildKitError) detail.code = error.code;
    if (error instanceof lib.StepFailedError) {
      detail.step = error.step;
      detail.exitCode = error.exitCode;
      detail.logTail = error.logTail;
      detail.location = error.location;
    }
    io.stdout.write(`${JSON.stringify({ ok: false, error: detail })}\n`);
    return exitCode;
  }
  let text = "";
  if (error instanceof lib.StepFailedError && !view.logShown && error.logTail.length > 0) {
    text += `------\n > ${error.step}:\n${error.logTail.map((line) => `${line}\n`).join("")}------\n`;
  }
  const location = error instanceof lib.StepFailedError || error instanceof lib.DockerfileParseError ? error.location : undefined;
  if (location && view.dockerfileText !== undefined) {
    const { dockerfileExcerpt } = await import("./dockerfile-excerpt.js");
    text += dockerfileExcerpt(view.dockerfileText, location)
      .map((line) => `${line}\n`)
      .join("");
  }
  text += `${ERROR_PREFIX}${message}\n`;
  if (!(error instanceof lib.BuildKitError) && error instanceof Error && error.stack) text += `${error.stack}\n`;
  io.stderr.write(text);
  return exitCode;
}

/** The local Dockerfile's text, read while the build runs: failures quote their lines from it. */
async function localDockerfileText(request: BuildRequest): Promise<string | undefined> {
  if (request.context.type !== "local") return undefined;
  const dir = request.context.dockerfileDir ?? request.context.dir;
  return readFile(join(dir, request.dockerfile ?? "Dockerfile"), "utf8").catch(() => undefined);
}

/** Entry point of `bin/buildkit-bot.js`: runs the CLI with the process's streams; Ctrl-C cancels the build. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\ncancelling the build (press Ctrl-C again to quit at once)\n");
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await runCli(argv, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
