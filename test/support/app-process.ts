import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/**
 * The real app (`node --import tsx src/app/main.ts`) as a child process, for end-to-end tests: the environment is
 * exactly what the caller builds (nothing inherited but PATH and HOME), stdout and stderr go to files (the leak
 * scan reads them), `stop()` sends SIGTERM, `kill9()` SIGKILL, `restart()` starts it again with the same env and
 * appends to the same files.
 */

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export type AppReadiness =
  /** Some HTTP answer on `http://127.0.0.1:$PORT/` (the web and all roles). */
  | "http"
  /** A line of stdout/stderr matches. */
  | RegExp
  /** Resolves true once ready; errors count as "not yet". */
  | (() => Promise<boolean>);

export interface AppProcessOptions {
  /** The app's environment (APP_ID, PRIVATE_KEY, BUILDKIT_BOT_*, PORT…). PATH and HOME are added when absent. */
  env: NodeJS.ProcessEnv;
  /** Where `<name>.stdout.log` and `<name>.stderr.log` are written. */
  dir: string;
  /** Default `app`. */
  name?: string;
  /** Default: "http" when the role is not `worker`, else the Probot configuration log line. */
  ready?: AppReadiness;
  readyTimeoutMs?: number;
  /** Node's arguments and working directory; default `--import tsx src/app/main.ts` in this checkout (a bench runs a compiled tree). */
  command?: { args: string[]; cwd: string };
}

export interface AppProcess {
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
  /** PID of the current run. */
  readonly pid: number;
  /** `http://127.0.0.1:$PORT` when PORT is set. */
  readonly url: string | undefined;
  readonly stdoutFile: string;
  readonly stderrFile: string;
  /** Exit of the current run, once it has ended. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Everything written to stdout and stderr so far, across restarts. */
  output(): Promise<string>;
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`, default 30 s). Resolves the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL now (a crash), and waits for the exit. */
  kill9(): Promise<void>;
  /** Starts it again with the same environment (after stop or kill9), and waits until it is ready. */
  restart(): Promise<void>;
}

export class AppProcessError extends Error {
  override readonly name = "AppProcessError";
}

export async function startAppProcess(opts: AppProcessOptions): Promise<AppProcess> {
  await mkdir(opts.dir, { recursive: true });
  const name = opts.name ?? "app";
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    NODE_ENV: "test",
    ...opts.env,
  };
  const stdoutFile = join(opts.dir, `${name}.stdout.log`);
  const stderrFile = join(opts.dir, `${name}.stderr.log`);
  const url = env.PORT ? `http://127.0.0.1:${env.PORT}` : undefined;
  const readiness: AppReadiness = opts.ready ?? (env.BUILDKIT_BOT_ROLE === "worker" || !url ? /buildkit-bot configuration/ : "http");

  let child: ChildProcess | undefined;
  let exit: AppProcess["exit"];
  let exited: Promise<void> = Promise.resolve();

  const files = async (): Promise<[string, string]> =>
    Promise.all([readFile(stdoutFile, "utf8").catch(() => ""), readFile(stderrFile, "utf8").catch(() => "")]);
  const output = async (): Promise<string> => (await files()).join("");

  const launch = async (): Promise<void> => {
    const out = openSync(stdoutFile, "a");
    const err = openSync(stderrFile, "a");
    const [outBefore, errBefore] = await files();
    const from = { out: outBefore.length, err: errBefore.length };
    try {
      const { args, cwd } = opts.command ?? { args: ["--import", "tsx", "src/app/main.ts"], cwd: REPO_ROOT };
      const c = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", out, err] });
      exit = undefined;
      exited = new Promise((done) =>
        c.once("exit", (code, signal) => {
          exit = { code, signal };
          done();
        }),
      );
      await new Promise<void>((ok, fail) => {
        c.once("spawn", ok);
        c.once("error", (e) => fail(new AppProcessError(`could not start the app: ${e.message}`)));
      });
      child = c;
    } finally {
      closeSync(out);
      closeSync(err);
    }
    try {
      await waitReady(from);
    } catch (e) {
      // Nobody holds a handle on an app that never became ready: stop it here.
      await signal("SIGKILL", 10_000);
      throw e;
    }
  };

  /** What this run has written so far (stdout, then stderr). */
  const newOutput = async (from: { out: number; err: number }): Promise<string> => {
    const [out, err] = await files();
    return `${out.slice(from.out)}${err.slice(from.err)}`;
  };

  const isReady = async (from: { out: number; err: number }): Promise<boolean> => {
    if (readiness === "http") {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return true;
    }
    if (readiness instanceof RegExp) return readiness.test(await newOutput(from));
    return readiness();
  };

  const waitReady = async (from: { out: number; err: number }): Promise<void> => {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (exit) throw new AppProcessError(`the app exited (${exit.code ?? exit.signal}) before it was ready:\n${tail(await newOutput(from))}`);
      if (await isReady(from).catch(() => false)) return;
      if (Date.now() > deadline) throw new AppProcessError(`the app was not ready within ${opts.readyTimeoutMs ?? 60_000} ms:\n${tail(await newOutput(from))}`);
      await sleep(200);
    }
  };

  const signal = async (sig: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    const c = child;
    if (!c || exit) return;
    c.kill(sig);
    // An unref'd timer: once the app has exited, nothing keeps the test process waiting for it.
    const timedOut = await Promise.race([exited.then(() => false), sleep(timeoutMs, undefined, { ref: false }).then(() => true)]);
    if (timedOut) {
      c.kill("SIGKILL");
      await exited;
    }
  };

  await launch();

  return {
    name,
    env,
    get pid() {
      return child?.pid ?? -1;
    },
    url,
    stdoutFile,
    stderrFile,
    get exit() {
      return exit;
    },
    output,
    async stop(timeoutMs = 30_000) {
      await signal("SIGTERM", timeoutMs);
      return exit?.code ?? null;
    },
    async kill9() {
      await signal("SIGKILL", 10_000);
    },
    async restart() {
      if (!exit) throw new AppProcessError("restart() needs the app stopped or killed first");
      await launch();
    },
  };
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
