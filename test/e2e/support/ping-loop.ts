import { createHmac, randomUUID } from "node:crypto";

/** One signed `ping` delivery: when it left, how long until its answer was complete, and the status (0 = no answer). */
export interface PingSample {
  sentAt: number;
  latencyMs: number;
  status: number;
  error?: string;
}

/**
 * Sends a signed `ping` webhook every `intervalMs`, whether or not the previous one was answered (a slow app gets
 * more requests in flight, not fewer: no coordinated omission), until `stop()`, which waits for the ones in flight.
 */
export class PingLoop {
  readonly samples: PingSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();

  constructor(
    readonly hookUrl: string,
    readonly secret: string,
    readonly intervalMs = 50,
    readonly timeoutMs = 30_000,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.#send(), this.intervalMs);
    this.#send();
  }

  async stop(): Promise<PingSample[]> {
    clearInterval(this.#timer);
    await Promise.all([...this.#inFlight]);
    return this.samples;
  }

  #send(): void {
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1, hook: { type: "App", id: 1, events: ["push"] } });
    const signature = `sha256=${createHmac("sha256", this.secret).update(body).digest("hex")}`;
    const sentAt = Date.now();
    const started = performance.now();
    const done = fetch(this.hookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/ping-loop",
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": signature,
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        this.samples.push({ sentAt, latencyMs: performance.now() - started, status: res.status });
      })
      .catch((err: unknown) => {
        this.samples.push({ sentAt, latencyMs: performance.now() - started, status: 0, error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }
}
