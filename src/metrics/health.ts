import type { BuilderSnapshot } from "../builders/index.js";

/** One thing readiness depends on: resolves undefined when it is fine, else why not (words safe to show anyone). */
export interface ReadinessCheck {
  name: string;
  check(): Promise<string | undefined>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; reason?: string }>;
}

/** Each check has this long; one that has not answered by then fails, so a probe never hangs on a dead dependency. */
export const READINESS_TIMEOUT_MS = 1_000;

/** Runs the checks at once, each bounded by `timeoutMs`. */
export async function readiness(checks: readonly ReadinessCheck[], timeoutMs = READINESS_TIMEOUT_MS): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      });
      const reason = await Promise.race([c.check().catch((err: unknown) => (err instanceof Error ? err.message : String(err))), timeout]).finally(() => clearTimeout(timer));
      return [c.name, reason] as const;
    }),
  );
  const report: ReadinessReport = { ready: results.every(([, r]) => r === undefined), checks: {} };
  for (const [name, reason] of results) report.checks[name] = reason === undefined ? { ok: true } : { ok: false, reason };
  return report;
}

/** Redis answers PING. A connection that is not up fails at once, without waiting for the timeout. */
export function redisCheck(redis: { readonly status: string; ping(): Promise<unknown> }): ReadinessCheck {
  return {
    name: "redis",
    async check() {
      if (redis.status !== "ready") return `not connected (${redis.status})`;
      await redis.ping();
      return undefined;
    },
  };
}

/** At least one builder answers this process's health probes. */
export function buildersCheck(snapshot: () => Promise<BuilderSnapshot[]>): ReadinessCheck {
  return {
    name: "builders",
    async check() {
      const builders = await snapshot();
      if (builders.some((b) => b.available)) return undefined;
      if (builders.length === 0) return "no builder is configured";
      return `no builder is available (${builders.map((b) => b.name).join(", ")})`;
    },
  };
}
