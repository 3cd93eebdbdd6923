import { performance } from "node:perf_hooks";
import { Pool } from "undici";

/** One prepared request: built and signed before the load starts, so the generator does little while it runs. */
export interface PreparedRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface PacedLoadOptions {
  url: string;
  /** Requests per second, sent one every 1/rate s whatever the answers do (an open model). */
  rate: number;
  /** Sent in this order, all of them: the run lasts requests.length / rate seconds. */
  requests: readonly PreparedRequest[];
  /** Keep-alive connections the generator may open; a request with none free waits, and the wait counts. */
  connections: number;
  timeoutMs: number;
}

export interface PacedLoadResult {
  rate: number;
  sent: number;
  ok: number;
  /** Answers that were not 2xx, plus requests that failed or timed out. */
  errors: number;
  /** Per answer: from the moment the schedule said to send it to the answer's last byte, in ms. */
  latencies: number[];
  /** How far behind its schedule the generator's worst send was, in ms (its own event loop's lag). */
  worstSendLagMs: number;
}

/**
 * Sends `rate` requests a second at fixed intervals, each when its time comes, whether or not earlier ones were
 * answered: what "deliveries at N/s" means. autocannon cannot: its rate is a per-connection count that resets
 * every second, so each second's requests go out back to back on its connections, a burst at the top of the
 * second, and a response time then measures the burst's queue (connections × service time) more than the rate.
 * Latency is measured from each request's scheduled time, so a server (or a generator) that falls behind is
 * charged for the wait (no coordinated omission).
 */
export async function pacedLoad(opts: PacedLoadOptions): Promise<PacedLoadResult> {
  const { requests } = opts;
  const total = requests.length;
  const pool = new Pool(opts.url, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs });
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let worstSendLagMs = 0;
  const interval = 1000 / opts.rate;
  const inFlight: Promise<void>[] = [];
  const send = (req: PreparedRequest, due: number): Promise<void> =>
    pool
      .request({ method: "POST", path: req.path, headers: req.headers, body: req.body })
      .then(async (res) => {
        await res.body.dump();
        latencies.push(performance.now() - due);
        if (res.statusCode >= 200 && res.statusCode < 300) ok++;
        else errors++;
      })
      .catch(() => {
        errors++;
      });
  try {
    const start = performance.now() + 20;
    let next = 0;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const now = performance.now();
        while (next < total && start + next * interval <= now) {
          const due = start + next * interval;
          worstSendLagMs = Math.max(worstSendLagMs, now - due);
          inFlight.push(send(requests[next] as PreparedRequest, due));
          next++;
        }
        if (next >= total) return done();
        // Timers fire at 1 ms granularity at best: wake a little early and send whatever is due then.
        setTimeout(tick, Math.max(0, start + next * interval - performance.now() - 0.5));
      };
      setTimeout(tick, 20);
    });
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  return { rate: opts.rate, sent: total, ok, errors, latencies, worstSendLagMs };
}
