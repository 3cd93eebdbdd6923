/**
 * A process-wide cap on request-body bytes held in memory at once. Each request reserves what it holds (its
 * Content-Length up front, or chunk by chunk when the length is unknown) and releases it when it is answered.
 */
export class BodyBudget {
  #inFlight = 0;

  constructor(readonly limitBytes: number) {}

  get inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Takes `bytes` from the budget, or nothing and false when they do not fit. */
  tryReserve(bytes: number): boolean {
    if (this.#inFlight + bytes > this.limitBytes) return false;
    this.#inFlight += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - bytes);
  }
}
