import { BuildCancelledError, pushImageIndex } from "@buildkit-bot/buildkit";
import type { BuildRequest, BuildResult, CacheEntry, ProgressEvent } from "@buildkit-bot/buildkit";
import { AppError } from "../errors/index.js";
import type { SplitPart } from "./split-leases.js";

/** A split build's parts were built but cannot be joined (a daemon reported no digest). */
export class SplitBuildError extends AppError {
  readonly code = "SPLIT_BUILD_FAILED";
}

/** Which builder built which platform of a split build, in the image's platform order. */
export type BuiltOn = Array<{ platform: string; builder: string }>;

export interface SplitSolveOptions {
  signal: AbortSignal;
  onProgress(event: ProgressEvent): void;
  dockerfileText: Promise<string | undefined>;
  line(text: string): void;
}

/** The part of a split build an error came from (what the processor needs to say which builder was lost). */
const PART_OF = new WeakMap<object, SplitPart>();

export function splitPartOf(err: unknown): SplitPart | undefined {
  return typeof err === "object" && err !== null ? PART_OF.get(err) : undefined;
}

/**
 * Builds each part on its own builder at once, each exporting its image by digest only (no tag), then writes one
 * index referencing them under the build's names (the push-by-digest + index way of docker/github-builder): every
 * tag appears only once the whole image is there. Without a push the parts are only built.
 *
 * The first part to fail stops the others; its error goes on with its platforms and builder at the front of its
 * message (its class, and with it the step, exit code and Dockerfile line of a failed step, is kept). A Docker
 * Engine with its classic store cannot push by digest: the library refuses that part before it solves.
 */
export async function solveSplit(parts: readonly SplitPart[], request: BuildRequest, opts: SplitSolveOptions): Promise<{ result: BuildResult; builtOn: BuiltOn }> {
  const started = Date.now();
  const stop = new AbortController();
  const signal = AbortSignal.any([opts.signal, stop.signal]);
  const settled = await Promise.allSettled(
    parts.map(async (part) => {
      try {
        return await part.client.solve(partRequest(request, part.platforms), { signal, onProgress: opts.onProgress, dockerfileText: opts.dockerfileText });
      } catch (err) {
        if (!stop.signal.aborted) stop.abort(err);
        throw err;
      }
    }),
  );
  const failures = settled.flatMap((s, i) => (s.status === "rejected" ? [{ err: s.reason as unknown, part: parts[i] as SplitPart }] : []));
  // The part that failed first, not a sibling it stopped (those end as cancelled).
  const failure = failures.find((f) => f.err === stop.signal.reason) ?? failures.find((f) => !(f.err instanceof BuildCancelledError)) ?? failures[0];
  if (failure) {
    if (failure.err instanceof Error && !opts.signal.aborted) {
      failure.err.message = `${failure.part.platforms.join(", ")} on builder ${failure.part.name}: ${failure.err.message}`;
      PART_OF.set(failure.err, failure.part);
    }
    throw failure.err;
  }
  const results = settled.map((s) => (s as PromiseFulfilledResult<BuildResult>).value);
  const builtOn: BuiltOn = parts.flatMap((p) => p.platforms.map((platform) => ({ platform, builder: p.name })));
  const solveMs = Date.now() - started;

  const output = request.output?.type === "image" && request.output.push ? request.output : undefined;
  let digest: string | undefined;
  if (output) {
    const missing = parts.filter((_, i) => !results[i]?.digest);
    if (missing.length > 0) throw new SplitBuildError(`${missing.map((p) => `builder ${p.name}`).join(", ")} reported no digest for ${missing.flatMap((p) => p.platforms).join(", ")}: the index cannot be written`);
    const index = await pushImageIndex({
      names: output.names,
      parts: parts.map((p, i) => ({ digest: results[i]?.digest as string, platform: p.platforms[0] as string })),
      credentials: request.registryAuth ?? [],
      ...(output.insecure ? { insecure: true } : {}),
      signal: opts.signal,
    }).catch((err: unknown) => {
      if (err instanceof Error && !opts.signal.aborted) err.message = `every platform was built and pushed by digest, but writing their index failed: ${err.message}`;
      throw err;
    });
    digest = index.digest;
    opts.line(`joined ${builtOn.map((b) => `${b.platform} (${b.builder})`).join(", ")} into ${digest}: ${output.names.join(", ")}`);
  }
  const totalMs = Date.now() - started;
  return {
    result: {
      ...(digest ? { digest } : {}),
      names: output ? [...output.names] : [],
      exporterResponse: Object.assign({}, ...results.map((r) => r.exporterResponse)) as Record<string, string>,
      timings: { solveMs, pushMs: totalMs - solveMs, totalMs },
      steps: {
        total: results.reduce((n, r) => n + r.steps.total, 0),
        cached: results.reduce((n, r) => n + r.steps.cached, 0),
        completed: results.reduce((n, r) => n + r.steps.completed, 0),
      },
    },
    builtOn,
  };
}

/** The request of one part: its platforms, its image pushed by digest only, its own registry cache (per platform). */
export function partRequest(request: BuildRequest, platforms: readonly string[]): BuildRequest {
  const part: BuildRequest = { ...request, platforms: [...platforms] };
  if (request.output?.type === "image" && request.output.push) part.output = { ...request.output, pushByDigest: true };
  const own = (entry: CacheEntry): CacheEntry => (entry.type === "registry" && entry.attrs?.ref ? { ...entry, attrs: { ...entry.attrs, ref: platformCacheRef(entry.attrs.ref, platforms) } } : entry);
  if (request.cacheExports) part.cacheExports = request.cacheExports.map(own);
  // This platform's own cache first; the shared one (from a build on one builder) may still hold its layers.
  if (request.cacheImports) part.cacheImports = [...request.cacheImports.filter((e) => own(e) !== e).map(own), ...request.cacheImports];
  return part;
}

/** `reg/app:cache` → `reg/app:cache-linux-arm64`: parts on different builders must not overwrite each other's cache. */
export function platformCacheRef(ref: string, platforms: readonly string[]): string {
  if (ref.includes("@")) return ref;
  const suffix = platforms.map((p) => p.replaceAll("/", "-")).join("_");
  const tagAt = ref.lastIndexOf(":");
  const tagged = tagAt > ref.lastIndexOf("/");
  // A tag is at most 128 characters.
  const tag = `${tagged ? `${ref.slice(tagAt + 1)}-` : ""}${suffix}`.slice(0, 128);
  return `${tagged ? ref.slice(0, tagAt) : ref}:${tag}`;
}
