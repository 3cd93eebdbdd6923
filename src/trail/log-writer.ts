import type { Redactor } from "@buildkit-bot/buildkit";
import { headUtf8 } from "../text/index.js";
import type { LogRecord, StepStatus } from "./log-records.js";
import type { LogStore } from "./log-store.js";

export interface LogWriterOptions {
  /** Flush when this many bytes wait. Default 64 KiB. */
  batchBytes?: number;
  /** Flush at least this often while lines arrive. Default 250 ms. */
  flushMs?: number;
  /** Longer lines are cut (and say so). Default 16 KiB. */
  maxLineBytes?: number;
  /** The build's own secrets (kept in memory only); a secret added to it later is redacted from what is written after. */
  redactor?: Redactor;
}

/**
 * Batches one build's records into few Redis writes. Call `close()` (or `finish()`) at the end.
 *
 * Each batch is sent as soon as it is full, without waiting for the previous write's reply: Redis runs one
 * connection's commands in the order they arrive, so the log keeps its order, and a build that logs faster than one
 * round trip per batch (a step printing 200 MB) does not pile its lines up in memory as batches waiting their turn
 * (up to 50 of them, 3 MB of log, on a busy machine).
 */
export class LogWriter {
  #pending: LogRecord[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Settles once every write sent so far has. */
  #written: Promise<unknown> = Promise.resolve();
  #error: unknown;
  readonly #batchBytes: number;
  readonly #flushMs: number;
  readonly #maxLineBytes: number;
  readonly #redactor: Redactor | undefined;

  constructor(
    private readonly store: LogStore,
    readonly buildId: string,
    options: LogWriterOptions = {},
  ) {
    this.#batchBytes = options.batchBytes ?? 64 * 1024;
    this.#flushMs = options.flushMs ?? 250;
    this.#maxLineBytes = options.maxLineBytes ?? 16 * 1024;
    this.#redactor = options.redactor;
  }

  step(step: string, name: string, status: StepStatus, exitCode?: number): void {
    this.#push({ t: "step", step, name, status, ...(exitCode === undefined ? {} : { exitCode }) });
  }

  line(text: string, step?: string): void {
    const bytes = Buffer.byteLength(text);
    const cut = bytes > this.#maxLineBytes ? `${headUtf8(text, this.#maxLineBytes)} … [line cut: ${bytes} bytes]` : text;
    this.#push({ t: "line", text: cut, ...(step === undefined ? {} : { step }) });
  }

  /** Writes what is buffered now. Rejects with the first write error, if any. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#bytes = 0;
    if (batch.length > 0) {
      // append() sends its command before its first await, so the writes go out in call order.
      const write = this.store.append(this.buildId, batch, this.#redactor ? { redactor: this.#redactor } : {}).catch((err: unknown) => {
        this.#error ??= err;
      });
      this.#written = Promise.all([this.#written, write]);
    }
    return this.#written.then(() => {
      if (this.#error) throw this.#error;
    });
  }

  async finish(outcome: Extract<LogRecord, { t: "end" }>["outcome"], message?: string): Promise<void> {
    await this.flush();
    await this.store.finish(this.buildId, outcome, message, this.#redactor);
  }

  #push(record: LogRecord): void {
    this.#pending.push(record);
    this.#bytes += record.t === "line" ? Buffer.byteLength(record.text) + 32 : 128;
    if (this.#bytes >= this.#batchBytes) void this.flush().catch(() => undefined);
    else this.#timer ??= setTimeout(() => void this.flush().catch(() => undefined), this.#flushMs);
  }
}
