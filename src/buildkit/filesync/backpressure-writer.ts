import { once } from "node:events";
import type { Writable } from "node:stream";

/**
 * Writes messages to an object-mode stream (a gRPC call) and waits for 'drain' whenever the stream asks for it,
 * so a producer never runs ahead of the peer. Several producers may share one writer.
 */
export class BackpressureWriter<T> {
  constructor(
    private readonly stream: Writable,
    private readonly signal: AbortSignal,
  ) {}

  async write(message: T): Promise<void> {
    this.signal.throwIfAborted();
    if (!this.stream.write(message)) await once(this.stream, "drain", { signal: this.signal });
  }

  /**
   * For many small messages (a directory listing, small files): waits for 'drain' only once `backlog` messages are
   * queued, not at the stream's own high-water mark (16 for a gRPC call). Each wait costs several event-loop turns
   * through the session tunnel, which for thousands of tiny messages was most of the time spent sending them.
   */
  async writeSmall(message: T, backlog: number): Promise<void> {
    this.signal.throwIfAborted();
    if (!this.stream.write(message) && this.stream.writableLength >= backlog) await once(this.stream, "drain", { signal: this.signal });
  }

  /** Queues a message without waiting; for the last words of a call (FIN, ERR). */
  writeNow(message: T): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.write(message);
  }
}
