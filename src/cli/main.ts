import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BuildRequest, BuildResult } from "../buildkit/build-request.js";
import { BuildKitClient } from "../buildkit/client.js";
import { BuildKitError, ConnectionError, InvalidRequestError, StepFailedError } from "../buildkit/errors.js";
import { consoleProgress } from "../buildkit/progress/console.js";
import type { ProgressHandler } from "../buildkit/progress/events.js";
import { jsonLinesProgress } from "../buildkit/progress/json-lines.js";
import { silentProgress } from "../buildkit/progress/silent.js";
import type { BuildCommand, HealthCommand } from "./cli-command.js";
import { ExitCode } from "./exit-codes.js";
import type { ParseEnvironment } from "./parse-command.js";
import { parseCommandLine } from "./parse-command.js";
import { ttyProgress } from "./tty-progress.js";
import { UsageError } from "./usage-error.js";

export interface CliIo extends ParseEnvironment {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Aborts a running build (the launcher wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
}

/** Runs one `buildkit-bot …` invocation and returns its exit code (see ExitCode). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command;
  try {
    command = await parseCommandLine(argv, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidRequestError) {
      io.stderr.write(`buildkit-bot: ${error.message}\nRun "buildkit-bot --help" for usage.\n`);
      return ExitCode.Usage;
    }
    throw error;
  }
  switch (command.kind) {
    case "help":
      io.stdout.write(command.text);
      return ExitCode.Ok;
    case "health":
      return runHealth(command, io);
    case "build":
      return runBuild(command, io);
  }
}

async function connect(addr: string, io: CliIo): Promise<BuildKitClient> {
  return BuildKitClient.connect(addr, { env: io.env ?? process.env });
}

async function runHealth(command: HealthCommand, io: CliIo): Promise<number> {
  let client: BuildKitClient | undefined;
  try {
    client = await connect(command.addr, io);
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
    return reportFailure(error, command.json, io);
  } finally {
    await client?.close();
  }
}

async function runBuild(command: BuildCommand, io: CliIo): Promise<number> {
  for (const note of command.notes) io.stderr.write(`note: ${note}\n`);
  let client: BuildKitClient | undefined;
  const progress = progressHandler(command, io);
  try {
    client = await connect(command.addr, io);
    const dockerfileText = await localDockerfileText(command.request);
    const result = await client.solve(command.request, {
      onProgress: progress.handler,
      ...(io.signal ? { signal: io.signal } : {}),
      ...(dockerfileText !== undefined ? { dockerfileText } : {}),
    });
    progress.stop();
    writeResult(result, command, io);
    return ExitCode.Ok;
  } catch (error) {
    progress.stop();
    return reportFailure(error, command.json, io);
  } finally {
    await client?.close();
  }
}

function progressHandler(command: BuildCommand, io: CliIo): { handler: ProgressHandler; stop(): void } {
  const stderr = io.stderr as NodeJS.WriteStream;
  const mode = command.progress === "auto" ? (stderr.isTTY ? "tty" : "plain") : command.progress;
  switch (mode) {
    case "tty":
      return ttyProgress(stderr);
    case "plain":
      return { handler: consoleProgress(stderr), stop: () => undefined };
    case "json":
      return { handler: jsonLinesProgress(stderr), stop: () => undefined };
    default:
      return { handler: silentProgress, stop: () => undefined };
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

function reportFailure(error: unknown, json: boolean, io: CliIo): number {
  const exitCode =
    error instanceof ConnectionError
      ? ExitCode.DaemonUnreachable
      : error instanceof InvalidRequestError
        ? ExitCode.Usage
        : ExitCode.BuildFailed;
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    const detail: Record<string, unknown> = { message };
    if (error instanceof BuildKitError) detail.code = error.code;
    if (error instanceof StepFailedError) {
      detail.step = error.step;
      detail.exitCode = error.exitCode;
      detail.logTail = error.logTail;
      detail.location = error.location;
    }
    io.stdout.write(`${JSON.stringify({ ok: false, error: detail })}\n`);
  }
  let text = `error: ${message}\n`;
  if (error instanceof StepFailedError) {
    if (error.location) text += `  at ${error.location.file}:${error.location.startLine}\n`;
    if (error.logTail.length > 0) text += error.logTail.map((line) => `  | ${line}\n`).join("");
  }
  if (!(error instanceof BuildKitError) && error instanceof Error && error.stack) text += `${error.stack}\n`;
  io.stderr.write(text);
  return exitCode;
}

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
