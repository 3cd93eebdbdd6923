import type { BuildKitClient } from "@buildkit-bot/buildkit";
import type { BuilderLease, BuilderPool } from "../builders/index.js";
import type { BuildTrail } from "../trail/index.js";

/** One part of a split build: its platforms, on the builder it holds. */
export interface SplitPart {
  platforms: string[];
  /** The builder held for this part. */
  name: string;
  client: BuildKitClient;
  /** The id the part's hold on its builder is counted under (the build's id and its platforms). */
  holdId: string;
  release(): Promise<void>;
}

/** Every part of a split build, held; `close` gives back their builders and the pool's connections (once). */
export interface SplitLeases {
  parts: SplitPart[];
  close(): Promise<void>;
}

/**
 * When the pool has no single builder for every platform of the build but each platform has one: one lease per
 * builder, for the platforms the split gives it, each held like a whole build's (a refusing builder is skipped, a
 * full one waited for). Undefined when the build is not split (or the pool cannot split). On any failure the parts already held are given
 * back before the error goes on (acquire's errors name the platforms and the builders).
 */
export async function acquireSplit(
  builders: Pick<BuilderPool, "acquire"> & Partial<Pick<BuilderPool, "splitFor">>,
  request: { buildId: string; key: string; platforms: readonly string[] },
  trail: Pick<BuildTrail, "line">,
  signal?: AbortSignal,
): Promise<SplitLeases | undefined> {
  const byPlatform = builders.splitFor ? await builders.splitFor({ ...request, platforms: [...new Set(request.platforms)] }, signal) : undefined;
  if (!byPlatform) return undefined;
  const groups = new Map<string, string[]>();
  for (const [platform, builder] of Object.entries(byPlatform)) groups.set(builder, [...(groups.get(builder) ?? []), platform]);
  trail.line(`no builder serves ${Object.keys(byPlatform).join(", ")} together: building each platform on its own builder, then joining them into one index`);

  const parts: SplitPart[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all(parts.map((p) => p.release()));
  };
  try {
    for (const platforms of groups.values()) {
      const holdId = `${request.buildId}@${platforms.join(",")}`;
      const lease: BuilderLease = await builders.acquire({ buildId: holdId, key: request.key, platforms }, signal);
      parts.push({ platforms, name: lease.name, client: lease.client, holdId, release: lease.release });
      for (const s of lease.skipped) trail.line(`builder ${s.name} refused the connection (${s.reason}); skipped`);
      trail.line(`${platforms.join(", ")}: ${lease.lostBefore ? `builder ${lease.lostBefore} was lost; retrying on ${lease.name}` : `builder ${lease.name}`} (${lease.client.address})`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { parts, close };
}
