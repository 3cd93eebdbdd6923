/** Counts content-creating writes in sliding windows, the way GitHub's secondary limits see them. */
export class WriteCounter {
  #times: number[] = [];
  total = 0;
  peakPerMinute = 0;
  peakPerHour = 0;

  record(at: number): void {
    this.total += 1;
    this.#times.push(at);
    while (this.#times.length > 0 && (this.#times[0] as number) <= at - 3_600_000) this.#times.shift();
    this.peakPerHour = Math.max(this.peakPerHour, this.#times.length);
    let inMinute = 0;
    for (let i = this.#times.length - 1; i >= 0 && (this.#times[i] as number) > at - 60_000; i--) inMinute++;
    this.peakPerMinute = Math.max(this.peakPerMinute, inMinute);
  }

  /** Writes in the last `windowMs` before `now`. */
  inWindow(now: number, windowMs = 60_000): number {
    return this.#times.filter((t) => t > now - windowMs).length;
  }
}
