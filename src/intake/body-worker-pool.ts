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
  /** Hands one chunk to the thread as it arrives; the chunk's bytes may be moved (the caller must not read it again). */
  push(chunk: Buffer): void;
  /** The signature matched: the thread parses and shape-checks the body and returns what the handlers read. */
  parse(name: string): Promise<WebhookPayload>;
  /** The body is refused: the thread forgets it. */
  drop(): void;
}

interface Thread {
  worker: Worker;
  open: number;
  waiting: Map<number, { resolve(p: WebhookPayload): void; reject(err: Error): void }>;
  gone?: Error;
  idle?: NodeJS.Timeout;
}

/**
 * Threads that assemble, parse and shape-check large webhook bodies, so that touching tens of MB of fresh memory
 * (concat, UTF-8 decode, JSON.parse) never happens on the main thread's event loop. Threads start on first use,
 * stop when idle and never keep the process alive; `close()` stops them. A thread that dies fails the bodies it
 * held (a 500) and is replaced on the next body.
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
    const thread = this.#pick();
    const id = this.#nextId++;
    thread.open++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      thread.open--;
    };
    this.#keep(thread);
    const send = (msg: ToBodyWorker, transfer: ArrayBuffer[] = []): void => {
      if (!thread.gone) thread.worker.postMessage(msg, transfer);
    };
    return {
      push: (chunk) => {
        if (done) return;
        // Node's HTTP parser gives each body chunk a buffer of its own: move that buffer to the thread as it is
        // (the caller reads the chunk no more). A chunk that is a view of a larger buffer, which a plain
        // postMessage would clone whole, is copied first and the copy moved.
        const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
        const bytes = owned ? new Uint8Array(chunk.buffer) : new Uint8Array(chunk);
        send({ kind: "chunk", id, chunk: bytes }, [bytes.buffer as ArrayBuffer]);
      },
      drop: () => {
        if (done) return;
        finish();
        send({ kind: "drop", id });
        this.#retireWhenIdle(thread);
      },
      parse: (name) => {
        if (done) return Promise.reject(new Error("body session already ended"));
        finish();
        if (thread.gone) return Promise.reject(thread.gone);
        return new Promise((resolve, reject) => {
          thread.waiting.set(id, { resolve, reject });
          send({ kind: "parse", id, name });
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
    if (thread.open > 0 || thread.waiting.size > 0 || thread.gone) return;
    this.#keep(thread);
    thread.idle = setTimeout(() => {
      if (thread.open > 0 || thread.waiting.size > 0 || thread.gone) return;
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
    return live.reduce((a, b) => (b.open < a.open ? b : a));
  }

  #start(): Thread {
    const worker = newWorker();
    worker.unref();
    const thread: Thread = { worker, open: 0, waiting: new Map() };
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
