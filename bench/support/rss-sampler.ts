import { readFileSync } from "node:fs";

/** Peak memory of a process, read from /proc/<pid>/status every `intervalMs` (VmHWM is the kernel's own peak RSS). */
export class RssSampler {
  peakRssKb = 0;
  peakHwmKb = 0;
  samples = 0;
  #timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    intervalMs = 100,
  ) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  sample(): void {
    let text: string;
    try {
      text = readFileSync(`/proc/${this.pid}/status`, "utf8");
    } catch {
      return;
    }
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    this.peakRssKb = Math.max(this.peakRssKb, kb("VmRSS"));
    this.peakHwmKb = Math.max(this.peakHwmKb, kb("VmHWM"));
    this.samples++;
  }

  /** The peak in MB (10^6 bytes): the larger of the sampled RSS and the kernel's high-water mark. */
  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return (Math.max(this.peakRssKb, this.peakHwmKb) * 1024) / 1e6;
  }
}
