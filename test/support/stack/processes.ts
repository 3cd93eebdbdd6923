import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** A part of the stack could not be started or did not become ready; the message carries its log tail. */
export class StackPartError extends Error {
  override readonly name = "StackPartError";
}

export interface DetachedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Set once the process has exited (only observable by the process that spawned it). */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface SpawnOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a long-running daemon in its own process group (so it outlives the CLI that started it and can be
 * killed as a group), with stdout and stderr appended to `logFile`.
 */
export async function spawnDetached(command: string, args: readonly string[], opts: SpawnOptions): Promise<DetachedProcess> {
  const fd = openSync(opts.logFile, "a");
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    let exit: DetachedProcess["exit"];
    child.on("exit", (code, signal) => {
      exit = { code, signal };
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("error", (err) => reject(new StackPartError(`could not start ${command}: ${err.message}`)));
      child.once("spawn", () => resolve(child.pid as number));
    });
    child.unref();
    return {
      pid,
      logFile: opts.logFile,
      get exit() {
        return exit;
      },
    };
  } finally {
    closeSync(fd);
  }
}

export async function logTail(file: string, lines = 25): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface WaitOptions {
  /** Used in the error message, e.g. "redis-server". */
  name: string;
  proc: DetachedProcess;
  /** Resolves true once the part answers; errors count as "not yet". */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  intervalMs?: number;
}

export async function waitUntilReady(opts: WaitOptions): Promise<void> {
  const { name, proc } = opts;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exit || !isRunning(proc.pid)) {
      const how = proc.exit ? `code ${proc.exit.code ?? "-"}, signal ${proc.exit.signal ?? "-"}` : "gone";
      throw new StackPartError(`${name} (pid ${proc.pid}) exited before it was ready (${how}); log ${proc.logFile}:\n${await logTail(proc.logFile)}`);
    }
    if (await opts.ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new StackPartError(`${name} (pid ${proc.pid}) was not ready after ${timeoutMs} ms; log ${proc.logFile}:\n${await logTail(proc.logFile)}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/**
 * Live processes whose command line contains `text` (e.g. a stack's root directory), leaving out this process
 * and its ancestors (the shell that started us may well mention the same directory).
 */
export function processesMentioning(text: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  const ancestors = ancestorsOfSelf();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (ancestors.has(pid)) continue;
    const cmdline = commandLine(pid);
    if (cmdline.includes(text) && isRunning(pid)) found.push({ pid, cmdline });
  }
  return found;
}

function ancestorsOfSelf(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid); ) {
    pids.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      break;
    }
  }
  return pids;
}

export interface StopOptions {
  /** How long to wait after SIGTERM before killing the whole process group. */
  graceMs?: number;
  /**
   * Guards against PID reuse: only signal the process if its command line still contains this text
   * (a recorded PID of a stack that stopped long ago may belong to someone else by now).
   */
  commandContains?: string;
}

/** SIGTERM, wait, then SIGKILL the process group; resolves once the process is really gone. */
export async function stopProcess(pid: number, opts: StopOptions = {}): Promise<void> {
  if (!isRunning(pid)) return;
  if (opts.commandContains !== undefined && !commandLine(pid).includes(opts.commandContains)) return;
  signal(pid, "SIGTERM");
  if (await waitGone(pid, opts.graceMs ?? 10_000)) return;
  signal(-pid, "SIGKILL");
  signal(pid, "SIGKILL");
  if (await waitGone(pid, 10_000)) return;
  throw new StackPartError(`process ${pid} (${commandLine(pid)}) is still running after SIGKILL`);
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
