import { readImageLayers } from "@buildkit-bot/buildkit";
import type { BuildRequest, ImageLayers, PlatformLayers } from "@buildkit-bot/buildkit";
import type { LayerChange, PlatformSizeDiff, SizeDiff } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";

export interface ImageSizeDiffDeps {
  /** The request the solve ran: its registry credentials and plain-HTTP setting serve the reads, as they served the push. */
  request: Pick<BuildRequest, "registryAuth" | "output">;
  signal?: AbortSignal;
  /** Both reads together; default 30 s. The build has succeeded by then: it waits this long at most. */
  timeoutMs?: number;
}

/**
 * After a pushed build whose plan names a base image (ImagePlan.sizeBase): reads the image just pushed and the
 * base branch's image from the registry and compares them per platform, layer by layer. Never fails: a missing
 * base image, or a registry that refuses or does not answer, is a one-line note. Undefined when there is nothing
 * to compare (not pushed, no base for this ref).
 */
export async function imageSizeDiff(job: BuildJob, pushedTags: readonly string[], digest: string | undefined, deps: ImageSizeDiffDeps): Promise<SizeDiff | undefined> {
  const base = job.image.sizeBase;
  const first = pushedTags[0];
  if (!base || first === undefined) return undefined;
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const access = {
    credentials: deps.request.registryAuth ?? [],
    ...(deps.request.output?.type === "image" && deps.request.output.insecure ? { insecure: true } : {}),
    signal: deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout,
  };
  const name = digest ? `${first.replace(/:[^:/]+$/, "")}@${digest}` : first;
  const branch = `\`${base.branch}\``;
  let built: ImageLayers | undefined;
  let previous: ImageLayers | undefined;
  try {
    [built, previous] = await Promise.all([readImageLayers({ ...access, name }), readImageLayers({ ...access, name: base.reference })]);
  } catch (err) {
    const why = timeout.aborted ? `the registry did not answer within ${Math.round(timeoutMs / 1000)} s` : err instanceof Error ? err.message : String(err);
    return { base: base.branch, note: `not compared with ${branch}: ${why}` };
  }
  if (!built) return { base: base.branch, note: `not compared with ${branch}: the pushed image was not found in the registry` };
  const size = built.platforms.length === 1 ? { size: built.platforms[0]!.size } : {};
  if (!previous) return { base: base.branch, ...size, note: `no ${branch} image to compare with yet (\`${base.reference}\` not found)` };
  if (built.digest === previous.digest) return { base: base.branch, ...size, note: `the same image as ${branch}` };
  return compareImages(base.branch, built, previous);
}

/** Per platform of `built` (matched by name with `base`'s), its layers as added, unchanged and removed. */
export function compareImages(branch: string, built: ImageLayers, base: ImageLayers): SizeDiff {
  const baseByPlatform = new Map(base.platforms.map((p) => [p.platform, p]));
  // One platform on each side under different names (an image without a platform in its index): still the same image.
  const single = built.platforms.length === 1 && base.platforms.length === 1 ? base.platforms[0] : undefined;
  const platforms: PlatformSizeDiff[] = built.platforms.map((p) => {
    const before = baseByPlatform.get(p.platform) ?? single;
    return { platform: p.platform, size: p.size, ...(before ? { baseSize: before.size } : {}), layers: layerChanges(p, before) };
  });
  const built_ = new Set(built.platforms.map((p) => p.platform));
  const removedPlatforms = single ? [] : base.platforms.map((p) => p.platform).filter((p) => !built_.has(p));
  return { base: branch, platforms, ...(removedPlatforms.length > 0 ? { removedPlatforms } : {}) };
}

function layerChanges(built: PlatformLayers, base: PlatformLayers | undefined): LayerChange[] {
  const left = new Map<string, number>();
  for (const l of base?.layers ?? []) left.set(l.digest, (left.get(l.digest) ?? 0) + 1);
  const changes: LayerChange[] = built.layers.map((l) => {
    const n = left.get(l.digest) ?? 0;
    if (n > 0) left.set(l.digest, n - 1);
    return { change: n > 0 ? "unchanged" : "added", size: l.size, ...(l.createdBy ? { instruction: l.createdBy } : {}) };
  });
  for (const l of base?.layers ?? []) {
    const n = left.get(l.digest) ?? 0;
    if (n === 0) continue;
    left.set(l.digest, n - 1);
    changes.push({ change: "removed", size: l.size, ...(l.createdBy ? { instruction: l.createdBy } : {}) });
  }
  return changes;
}
