import { Worker } from "node:worker_threads";

/** One request as the app saw it: from the moment it reached the proxy until its response was fully sent back. */
export interface TimedCall {
  method: string;
  /** Path without the GHE `/api/v3` prefix and without the query. */
  path: string;
  status: number;
  start: number;
  end: number;
  /** The parsed JSON request body (small bodies only), to tell a check run's updates apart. */
  body?: Record<string, unknown>;
}

export type ToProxyThread = { type: "target"; url: string } | { type: "sync"; id: number } | { type: "close" };
export type FromProxyThread = { type: "listening"; port: number } | { type: "call"; call: TimedCall } | { type: "synced"; id: number };

const THREAD_ENTRY = new URL("./timing-proxy-thread.ts", import.meta.url);

/**
 * A pass-through HTTP proxy in front of the fake GitHub that records when each request started and ended as the
 * app experiences it (the fake records only arrival). It adds one loopback hop per call, for every build alike. It
 * serves from a worker thread, so the bench's own work on the main thread (the fake GitHub, the git server) does not
 * delay the moment a request is seen; `calls` fills as the thread reports finished calls (`synced` waits for those
 * reported so far).
 */
export class TimingProxy {
  readonly calls: TimedCall[] = [];
  url = "";
  #target = "";
  readonly #thread: Worker;
  readonly #syncs = new Map<number, () => void>();
  #nextSync = 0;
  readonly #listening: Promise<number>;

  constructor() {
    // The thread registers tsx's loader itself: not every Node passes `--import tsx` on to threads.
    const boot = `import("tsx/esm/api").then((m) => m.register()).then(() => import(${JSON.stringify(THREAD_ENTRY.href)}));`;
    this.#thread = new Worker(boot, { eval: true, execArgv: [] });
    this.#listening = new Promise<number>((resolve, reject) => {
      this.#thread.once("error", reject);
      this.#thread.on("message", (message: FromProxyThread) => {
        if (message.type === "listening") resolve(message.port);
        else if (message.type === "call") this.calls.push(message.call);
        else this.#syncs.get(message.id)?.();
      });
    });
    this.#listening.catch(() => undefined);
  }

  get target(): string {
    return this.#target;
  }

  /** Requests that arrive before the target is known (the app calls GitHub while it starts) wait for it. */
  set target(url: string) {
    this.#target = url;
    this.#post({ type: "target", url });
  }

  async listen(): Promise<void> {
    this.url = `http://127.0.0.1:${await this.#listening}`;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** Resolves once every call the thread had finished by now is in `calls`. */
  async synced(): Promise<void> {
    const id = this.#nextSync++;
    await new Promise<void>((resolve) => {
      this.#syncs.set(id, resolve);
      this.#post({ type: "sync", id });
    });
    this.#syncs.delete(id);
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#thread.once("exit", () => resolve()));
    this.#post({ type: "close" });
    const timer = setTimeout(() => void this.#thread.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  #post(message: ToProxyThread): void {
    this.#thread.postMessage(message);
  }
}
