import { Worker } from "node:worker_threads";
import { ConfigError, REPO_CONFIG_PATH, CONFIG_LIMIT_SPECS, DEFAULT_CONFIG_LIMITS } from "../config/index.js";
import type { ConfigLimits, RepoConfigValidatorOrigin } from "../config/index.js";
import type { ConfigSource } from "./config-source-memo.js";
import { fromPlainError, fromPlainLoaded } from "./config-task.js";
import type { ConfigTask, PlainLoaded, TaskOutcome } from "./config-task.js";
import type { ConfigWorkerData, FromConfigWorker, ToConfigWorker } from "./config-worker.js";
import type { ConfigWork } from "./config-work.js";
import { interpretConfigSource } from "./load-repo-config.js";
import type { LoadedRepoConfig } from "./load-repo-config.js";
import { planImages } from "./plan.js";
import type { ImageDecision, PlanInput } from "./plan.js";

/**
 * Under tsx the pool is `config-worker-pool.ts` and its worker `config-worker.ts` (the thread inherits the
 * process's `--import tsx`); compiled, both are `.js` in dist/.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./config-worker.ts" : "./config-worker.js", import.meta.url);

/** The young generation is for short-lived garbage; parsed documents live in the old one, which `checkMemoryMb` caps. */
const YOUNG_GENERATION_MB = 8;
const STACK_MB = 4;

export interface ConfigWorkerPoolOptions {
  /**
   * The deployment's limits: for calls that give none, and `checkMemoryMb` for every thread (a thread's heap cap
   * is set when it starts, so an account's own `checkMemoryMb` does not apply; its other limits do).
   */
  limits?: ConfigLimits;
  /** Threads at most; default 2. */
  size?: number;
  /**
   * Stop a thread that has checked a config after this long without work; default: never. One fresh thread, which
   * has checked nothing yet, is kept ready: starting one (loading the parser and the precompiled schema validator,
   * then a warm-up check) takes about 100 ms, which the next push would otherwise wait for. A thread costs about
   * 15 MB of resident memory idle, and more once a large config has grown its heap, which a fresh one has not.
   * `keepWarm(false)` lets that one go too, until `keepWarm(true)`.
   */
  idleMs?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** What the pool has done, for logs and tests. */
export interface ConfigWorkerPoolStats {
  /** Threads started, replacements included. */
  started: number;
  /** Tasks stopped at `checkTimeMs`. */
  overTime: number;
  /** Tasks whose thread ran out of `checkMemoryMb`. */
  overMemory: number;
  /** Threads that died otherwise. */
  crashed: number;
}

interface Pending {
  task: ConfigTask;
  checkTimeMs: number;
  resolve(outcome: TaskOutcome): void;
  reject(err: Error): void;
}

interface Thread {
  worker: Worker;
  ready: boolean;
  /** Set once the pool has let go of the thread (stopped, out of memory or exited); later events are ignored. */
  gone: boolean;
  busy?: { id: number; pending: Pending; timer: NodeJS.Timeout; checkTimeMs: number };
  idle?: NodeJS.Timeout;
  /** Has checked a config (its heap may hold what that config grew); a thread that has not is the warm one. */
  worked: boolean;
}

/**
 * Runs the planner's work on a repository's config (ConfigWork) in a few long-lived worker threads, each with a
 * heap cap and each task with a deadline, so that no config can stall the process's event loop (which also runs
 * the queues' workers and, in role `all`, the web server) or take its memory. A task over either limit becomes a
 * ConfigError naming the limit and its value; its thread is stopped and a fresh one started in its place, warm
 * before it is given work. Tasks wait in order for a free thread; the time limit counts from when one takes them.
 */
export class ConfigWorkerPool implements ConfigWork {
  readonly limits: ConfigLimits;
  /** Each thread's heap cap: `checkMemoryMb`, never below the floor under which V8 aborts the whole process. */
  readonly memoryMb: number;
  /** Threads at most. */
  readonly size: number;
  readonly idleMs: number | undefined;
  private readonly log: ConfigWorkerPoolOptions["log"];
  private readonly threads = new Set<Thread>();
  private readonly queue: Pending[] = [];
  private readonly stopping = new Set<Promise<unknown>>();
  private readyWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private nextId = 1;
  private startError: Error | undefined;
  private closed = false;
  private readonly counts: ConfigWorkerPoolStats = { started: 0, overTime: 0, overMemory: 0, crashed: 0 };
  private validatorOrigin: RepoConfigValidatorOrigin | undefined;
  private warm = true;

  constructor(opts: ConfigWorkerPoolOptions = {}) {
    this.limits = opts.limits ?? DEFAULT_CONFIG_LIMITS;
    this.memoryMb = Math.max(CONFIG_LIMIT_SPECS.checkMemoryMb.min, this.limits.checkMemoryMb);
    this.size = Math.max(1, Math.floor(opts.size ?? 2));
    this.idleMs = opts.idleMs;
    this.log = opts.log;
  }

  /**
   * Starts the threads (with `idleMs`, one: enough to show threads can start) and resolves once they are ready;
   * rejects when one cannot start. Optional: work starts them too.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the config worker pool is closed"));
    const wanted = this.idleMs === undefined ? this.size : 1;
    this.fill(wanted);
    // A thread that could not even be constructed is already gone.
    if (this.threads.size < wanted) return Promise.reject(this.startError ?? new Error("the config worker thread could not start"));
    if (this.allReady()) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  async interpret(source: ConfigSource, repoName: string, limits = this.limits): Promise<LoadedRepoConfig> {
    // Nothing to parse: no reason to cross to a thread.
    if (source.kind !== "file") return interpretConfigSource(source, repoName, limits);
    try {
      return fromPlainLoaded((await this.run({ kind: "interpret", source, repoName, limits }, limits)) as PlainLoaded);
    } catch (err) {
      // Over the time or memory limit: the config is invalid, as it is for any other limit.
      if (err instanceof ConfigError) return { kind: "invalid", error: err };
      throw err;
    }
  }

  async plan(input: PlanInput, limits = this.limits): Promise<ImageDecision[]> {
    // The app's own config (a root Dockerfile, no config file) brings nothing untrusted to apply: no reason to cross to a thread.
    if (!input.config.fromFile) return planImages(input);
    return (await this.run({ kind: "plan", input }, limits)) as ImageDecision[];
  }

  /**
   * With `idleMs`: whether a fresh thread is kept ready when no other is left (the default). Off, an idle fresh
   * thread is stopped and threads that checked a config are not replaced once they have been idle for `idleMs`,
   * so the pool holds no thread until there is work again (which then waits for one to start); on again, a fresh
   * one is started if none is left. A worker process turns it off while it runs builds: their log streams need the
   * memory more than a push arriving meanwhile needs the start-up time.
   */
  keepWarm(on: boolean): void {
    if (this.idleMs === undefined || this.warm === on) return;
    this.warm = on;
    if (on) {
      if (!this.closed && this.threads.size === 0) this.fill(1);
      return;
    }
    for (const thread of [...this.threads]) {
      if (!thread.worked && thread.ready && !thread.busy && this.queue.length === 0) this.letGo(thread, new Error("idle config worker thread stopped"));
    }
  }

  /** Threads running or starting now. */
  get liveThreads(): number {
    return this.threads.size;
  }

  stats(): ConfigWorkerPoolStats {
    return { ...this.counts };
  }

  /**
   * The schema validator the last thread to start has: "precompiled" (the module `npm run config:gen` generates), or
   * why not, in which case each thread loads Ajv and compiles the schema (a thread then holds about 24 MB instead of
   * 15); undefined before one is ready.
   */
  get validator(): RepoConfigValidatorOrigin | undefined {
    return this.validatorOrigin;
  }

  /** Stops every thread (a task still running is rejected) and waits until they have exited. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = new Error("the config worker pool is closed");
    for (const pending of this.queue.splice(0)) pending.reject(closing);
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(closing);
    for (const thread of [...this.threads]) this.letGo(thread, closing);
    await Promise.all([...this.stopping]);
  }

  private async run(task: ConfigTask, limits: ConfigLimits): Promise<PlainLoaded | ImageDecision[]> {
    if (this.closed) throw new Error("the config worker pool is closed");
    const outcome = await new Promise<TaskOutcome>((resolve, reject) => {
      this.queue.push({ task, checkTimeMs: limits.checkTimeMs, resolve, reject });
      this.fill();
      this.pump();
    });
    if (!outcome.ok) throw fromPlainError(outcome.error);
    return outcome.value;
  }

  private allReady(): boolean {
    return [...this.threads].every((t) => t.ready);
  }

  /** Starts threads up to `size`, or with `idleMs` as many as the waiting tasks need (at least `atLeast`). */
  private fill(atLeast = 0): void {
    const wanted = this.idleMs === undefined ? this.size : Math.min(this.size, Math.max(atLeast, this.queue.length + this.busyThreads()));
    while (!this.closed && this.threads.size < wanted) {
      try {
        this.spawn();
      } catch (err) {
        this.cannotStart(new Error(`the config worker thread could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        return;
      }
    }
  }

  private busyThreads(): number {
    return [...this.threads].filter((t) => t.busy).length;
  }

  private spawn(): void {
    const limits = this.limits;
    const worker = new Worker(WORKER_ENTRY, {
      workerData: { limits } satisfies ConfigWorkerData,
      // The thread reads untrusted input: it gets none of the process's secrets.
      env: {},
      resourceLimits: {
        maxOldGenerationSizeMb: this.memoryMb,
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
        stackSizeMb: STACK_MB,
      },
    });
    const thread: Thread = { worker, ready: false, gone: false, worked: false };
    this.threads.add(thread);
    this.counts.started++;
    worker.on("message", (message: FromConfigWorker) => this.onMessage(thread, message));
    worker.on("error", (err) => this.onDeath(thread, err));
    worker.on("exit", (code) => this.onDeath(thread, new Error(`the config worker exited with code ${code}`)));
  }

  private onMessage(thread: Thread, message: FromConfigWorker): void {
    if (thread.gone) return;
    if (message.type === "ready") {
      thread.ready = true;
      if (message.validator !== "precompiled" && this.validatorOrigin === undefined) {
        this.log?.warn({ validator: message.validator }, "the config schema's precompiled validator is missing or out of date (npm run config:gen): each config check thread compiles the schema");
      }
      this.validatorOrigin = message.validator;
      if (this.allReady()) for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    } else if (thread.busy && thread.busy.id === message.id) {
      const { pending, timer } = thread.busy;
      clearTimeout(timer);
      thread.busy = undefined;
      pending.resolve(message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error });
    }
    this.pump();
  }

  private pump(): void {
    this.assign();
    if (this.idleMs !== undefined && this.queue.length === 0) for (const thread of this.threads) this.retireWhenIdle(thread, this.idleMs);
  }

  /**
   * A ready thread that has checked a config (with `keepWarm(false)`, any thread) and has nothing more to do is
   * stopped after `idleMs`: its heap goes back to the system. When it was the last thread and the pool keeps one
   * warm, a fresh one takes its place, ready for the next push.
   */
  private retireWhenIdle(thread: Thread, idleMs: number): void {
    if (!thread.ready || (!thread.worked && this.warm) || thread.busy || thread.gone || thread.idle) return;
    thread.idle = setTimeout(() => {
      thread.idle = undefined;
      if (thread.busy || this.queue.length > 0) return;
      if (!thread.worked && this.warm) return;
      this.letGo(thread, new Error("idle config worker thread stopped"));
      if (!this.closed && this.warm && this.threads.size === 0) this.fill(1);
    }, idleMs);
    thread.idle.unref();
  }

  private assign(): void {
    for (const thread of this.threads) {
      if (this.queue.length === 0) return;
      if (!thread.ready || thread.busy || thread.gone) continue;
      if (thread.idle) clearTimeout(thread.idle);
      thread.idle = undefined;
      const pending = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => this.onDeadline(thread), pending.checkTimeMs);
      thread.busy = { id, pending, timer, checkTimeMs: pending.checkTimeMs };
      thread.worked = true;
      try {
        thread.worker.postMessage({ id, task: pending.task } satisfies ToConfigWorker);
      } catch (err) {
        // Input that cannot be cloned (a caller's bug, not the config's): this task fails, the thread stays free.
        clearTimeout(timer);
        thread.busy = undefined;
        pending.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private onDeadline(thread: Thread): void {
    if (thread.gone || !thread.busy) return;
    const ms = thread.busy.checkTimeMs;
    this.counts.overTime++;
    this.log?.warn({ checkTimeMs: ms }, "a repository config ran past the check time limit; its worker thread is replaced");
    this.letGo(thread, limitError(`the config took longer than ${duration(ms)} to check (limit checkTimeMs = ${ms})`));
    this.fill();
    this.pump();
  }

  private onDeath(thread: Thread, err: Error): void {
    if (thread.gone) return;
    const outOfMemory = (err as NodeJS.ErrnoException).code === "ERR_WORKER_OUT_OF_MEMORY";
    const wasReady = thread.ready;
    let cause: Error;
    if (outOfMemory && wasReady) {
      this.counts.overMemory++;
      this.log?.warn({ checkMemoryMb: this.memoryMb }, "a repository config ran past the check memory limit; its worker thread is replaced");
      cause = limitError(`the config took more than ${this.memoryMb} MB of memory to check (limit checkMemoryMb = ${this.memoryMb})`);
    } else {
      this.counts.crashed++;
      this.log?.warn({ err: err.message, starting: !wasReady }, "a config worker thread died");
      cause = wasReady ? err : new Error(`the config worker thread could not start (checkMemoryMb = ${this.memoryMb}): ${err.message}`, { cause: err });
    }
    this.letGo(thread, cause);
    if (wasReady) {
      this.fill();
      this.pump();
    } else {
      this.cannotStart(cause);
    }
  }

  /**
   * A thread that cannot start is not restarted in a loop: whatever waits for one is told (the tasks only when no
   * other thread is left to take them), and the next task tries again.
   */
  private cannotStart(cause: Error): void {
    this.startError = cause;
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(cause);
    if (this.threads.size === 0) for (const pending of this.queue.splice(0)) pending.reject(cause);
  }

  /** Drops the thread from the pool, rejects its task with `why`, and stops it (tracked until it has exited). */
  private letGo(thread: Thread, why: Error): void {
    if (thread.gone) return;
    thread.gone = true;
    this.threads.delete(thread);
    if (thread.idle) clearTimeout(thread.idle);
    if (thread.busy) {
      clearTimeout(thread.busy.timer);
      thread.busy.pending.reject(why);
      thread.busy = undefined;
    }
    const stopped = thread.worker.terminate().catch(() => undefined);
    this.stopping.add(stopped);
    void stopped.finally(() => this.stopping.delete(stopped));
  }
}

function limitError(message: string): ConfigError {
  return new ConfigError([{ path: REPO_CONFIG_PATH, line: 1, column: 1, message }]);
}

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
