import { Worker } from "node:worker_threads";
import type { FromBodyWorker, ToBodyWorker } from "./body-worker.js";
import { MalformedDeliveryError } from "./intake-errors.js";
import type { WebhookPayload } from "./webhook-payload.js";

const UNDER_TSX = import.meta.url.endsWith(".ts");
const WORKER_ENTRY = new URL(UNDER_TSX ? "./body-worker.ts" : "./body-worker.js", import.meta.url);

/**
 * Compiled, the thread runs body-worker.js. Under tsx (tests) the thread registers tsx's loader itself before
 * importing body-worker.ts, since not every Node passes `--import tsx` on to threads (20 does not); messages wait
 * in the port meanwhile.
 */
function newWorker(): Worker {
  // The thread reads untrusted input and needs none of the process's environment.
  if (!UNDER_TSX) return new Worker(WORKER_ENTRY, { env: {} });
  const boot = `import("tsx/esm/api").then((m) => m.register()).then(() => import(${JSON.stringify(WORKER_ENTRY.href)}));`;
  return new Worker(boot, { eval: true, env: {}, execArgv: [] });
}

/** One body on its way to a thread. */
export interface BodySession {
  /** Keeps one chunk as it arrives; the chunk's bytes may be moved later (the caller must not read it again). */
  push(chunk: Buffer): void;
  /** The signature matched: a thread decodes, parses and shape-checks the body and returns what the handlers read. */
  parse(name: string): Promise<WebhookPayload>;
  /** The body is refused: its chunks are let go (they never reached a thread). */
  drop(): void;
}

interface Thread {
  worker: Worker;
  waiting: Map<number, { resolve(p: WebhookPayload): void; reject(err: Error): void }>;
  gone?: Error;
  idle?: NodeJS.Timeout;
}

/**
 * Threads that decode, parse and shape-check large webhook bodies, so that touching tens of MB of fresh memory
 * (UTF-8 decode, JSON.parse) never happens on the main thread's event loop. A body's chunks stay where they arrived
 * until its signature matched, then move to a thread without a copy: a refused body (most large bodies that are not
 * GitHub's) costs no thread and no decoded text. Threads start on first use, stop when idle and never keep the
 * process alive; `close()` stops them. A thread that dies fails the bodies it held (a 500) and is replaced on the
 * next body.
 */
export class BodyWorkerPool {
  readonly #threads: Thread[] = [];
  #nextId = 1;
  #closed = false;

  /**
   * One thread by default: two 25 MB parses at once would each grow a heap by ~75 MB; one after the other they
   * share one (the bodies still arrive in parallel, only their parses queue).
   */
  constructor(
    readonly size = 1,
    readonly idleMs = 500,
  ) {}

  open(): BodySession {
    if (this.#closed) throw new Error("the body worker pool is closed");
    let chunks: Uint8Array[] = [];
    let done = false;
    return {
      push: (chunk) => {
        if (done) return;
        // Node's HTTP parser gives each body chunk a buffer of its own: keep that buffer as it is, to be moved to
        // the thread later. A chunk that is a view of a larger buffer, which a move would take whole, is copied.
        const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
        chunks.push(owned ? new Uint8Array(chunk.buffer) : new Uint8Array(chunk));
      },
      drop: () => {
        done = true;
        chunks = [];
      },
      parse: (name) => {
        if (done) return Promise.reject(new Error("body session already ended"));
        done = true;
        const moved = chunks;
        chunks = [];
        if (this.#closed) return Promise.reject(new Error("the body worker pool is closed"));
        const thread = this.#pick();
        this.#keep(thread);
        const id = this.#nextId++;
        return new Promise((resolve, reject) => {
          thread.waiting.set(id, { resolve, reject });
          const msg: ToBodyWorker = { kind: "parse", id, name, chunks: moved };
          thread.worker.postMessage(msg, moved.map((c) => c.buffer as ArrayBuffer));
        });
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** Threads running now (a retired or lost thread is not counted). */
  get liveThreads(): number {
    return this.#threads.filter((t) => !t.gone).length;
  }

  #keep(thread: Thread): void {
    if (thread.idle) clearTimeout(thread.idle);
    thread.idle = undefined;
  }

  /**
   * A thread's heap stays as large as the largest body it parsed made it, so a thread with nothing to do is
   * stopped after idleMs; the next large body starts a fresh one (tens of ms, for a rare delivery).
   */
  #retireWhenIdle(thread: Thread): void {
    if (thread.waiting.size > 0 || thread.gone) return;
    this.#keep(thread);
    thread.idle = setTimeout(() => {
      if (thread.waiting.size > 0 || thread.gone) return;
      thread.gone = new Error("body worker thread retired");
      const i = this.#threads.indexOf(thread);
      if (i >= 0) this.#threads.splice(i, 1);
      void thread.worker.terminate();
    }, this.idleMs);
    thread.idle.unref();
  }

  #pick(): Thread {
    const live = this.#threads.filter((t) => !t.gone);
    if (live.length < this.size) return this.#start();
    return live.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
  }

  #start(): Thread {
    const worker = newWorker();
    worker.unref();
    const thread: Thread = { worker, waiting: new Map() };
    this.#threads.push(thread);
    worker.on("message", (msg: FromBodyWorker) => {
      const waiter = thread.waiting.get(msg.id);
      if (!waiter) return;
      thread.waiting.delete(msg.id);
      this.#retireWhenIdle(thread);
      if (msg.kind === "parsed") waiter.resolve(msg.payload);
      else if (msg.kind === "invalid") waiter.reject(new MalformedDeliveryError(msg.message));
      else waiter.reject(new Error(`body worker: ${msg.message}`));
    });
    const lose = (err: Error): void => {
      if (thread.gone) return;
      thread.gone = err;
      const i = this.#threads.indexOf(thread);
      if (i >= 0) this.#threads.splice(i, 1);
      for (const w of thread.waiting.values()) w.reject(err);
      thread.waiting.clear();
    };
    worker.on("error", (err) => lose(err));
    worker.on("exit", (code) => lose(new Error(`body worker thread exited (${code})`)));
    return thread;
  }
}
