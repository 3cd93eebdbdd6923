/**
 * The choice of a builder for one build: consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads", 2016; the scheme Vimeo and HAProxy use). The same key
 * (installation/repository/image) lands on the same builder, where its cache is, while that builder is healthy and
 * not over its share; removing or adding a builder moves only about that builder's share of keys. While the pool is
 * lightly loaded, a builder's share is its own max_concurrent_builds: with a few builds on builders of up to 8,
 * ceil(c × average) is 2 or 3, and a key whose builder runs that many would lose its cache for a slot that costs
 * nothing to wait for (the scheduler simulation put only about half of the rebuilds on their last builder).
 */

/** What the choice sees of each builder. */
export interface BuilderCandidate {
  name: string;
  /** `os/arch[/variant]` it is given: what ListWorkers reports, narrowed by the builders file. */
  platforms: readonly string[];
  available: boolean;
  draining: boolean;
  /** Builds running on it now, across every worker process. */
  running: number;
  maxConcurrent: number | undefined;
}

/**
 * - `chosen`: build on `name`.
 * - `busy`: builders serve the platforms but every one is at its `maxConcurrent`: wait, without spending an attempt.
 * - `unservable`: `platforms` lists the required platforms no usable (available, not draining) builder serves. It is
 *   empty when no builder is usable at all (nothing required), or when each platform is served by some builder but no
 *   single builder serves them all (pass `split: true` to get a `split` for that case instead).
 */
export type BuilderChoice = { kind: "chosen"; name: string } | { kind: "busy" } | { kind: "unservable"; platforms: string[] };

/** Each required platform on its own builder (several platforms may share one): build per platform, then join them. */
export interface SplitChoice {
  kind: "split";
  byPlatform: Record<string, string>;
}

export interface ChooseBuilderOptions {
  /** c in the paper: no builder takes a build while it runs ceil(c × average) or more. At least 1; default 1.25. */
  loadFactor?: number;
  /**
   * While the eligible builders, this build counted, run at most this share of the sum of their `maxConcurrent`, the
   * load bound is lifted: the first builder on the ring with room of its own takes the build. 0 turns it off; it is
   * off whenever an eligible builder has no `maxConcurrent` (its room is unknown). Between 0 and 1; default 0.5.
   */
  lightLoad?: number;
  /** Answer a multi-platform build no single builder serves with a `split` rather than `unservable`. */
  split?: boolean;
}

export const DEFAULT_LOAD_FACTOR = 1.25;
export const DEFAULT_LIGHT_LOAD = 0.5;
/** Points per builder on the ring: enough that each builder's share of keys stays within about ±10 % of 1/n. */
export const VIRTUAL_NODES = 160;

/**
 * Walks the ring clockwise from hash(key) and takes the first eligible builder (available, not draining, serving
 * every required platform) running fewer than min(maxConcurrent, ceil(c × average load)) builds, the average taken
 * over the eligible builders with this build counted. When each one is at that bound but some still has room below
 * its own maxConcurrent (builders of unequal size), the first of those on the ring gets it; when all are full,
 * `busy`. Lightly loaded (every eligible builder has a maxConcurrent, and the running builds with this one are at
 * most `lightLoad` of their sum), the bound is lifted: the first builder on the ring below its maxConcurrent takes
 * it, so a key stays on its builder up to that builder's own limit. Empty `required`: any builder's own platform will do.
 *
 * Cost: one pass over the candidates (their running counts change on every call), a binary search on the ring, and
 * a walk that stops at the first eligible builder with room. The ring (VIRTUAL_NODES points per builder, hashed
 * with FNV-1a and murmur3's finaliser: the same on every process and Node version) is built once per set of
 * builder names and kept, so health, drain and load changes cost no rebuild.
 */
export function chooseBuilder(
  key: string,
  required: readonly string[],
  candidates: readonly BuilderCandidate[],
  options?: ChooseBuilderOptions & { split?: false },
): BuilderChoice;
export function chooseBuilder(
  key: string,
  required: readonly string[],
  candidates: readonly BuilderCandidate[],
  options: ChooseBuilderOptions,
): BuilderChoice | SplitChoice;
export function chooseBuilder(
  key: string,
  required: readonly string[],
  candidates: readonly BuilderCandidate[],
  options: ChooseBuilderOptions = {},
): BuilderChoice | SplitChoice {
  const loadFactor = options.loadFactor ?? DEFAULT_LOAD_FACTOR;
  if (!(loadFactor >= 1) || !Number.isFinite(loadFactor)) throw new RangeError(`loadFactor must be a finite number ≥ 1, got ${loadFactor}`);
  const lightLoad = options.lightLoad ?? DEFAULT_LIGHT_LOAD;
  if (!(lightLoad >= 0 && lightLoad <= 1)) throw new RangeError(`lightLoad must be a number from 0 to 1, got ${lightLoad}`);
  const limits = { loadFactor, lightLoad };
  const platforms = [...new Set(required)];
  const { ring, slots } = placementFor(candidates);
  const byRing = new Array<BuilderCandidate | undefined>(ring.names.length);
  for (let i = 0; i < candidates.length; i++) byRing[slots[i] as number] = candidates[i];

  const missing = platforms.filter((p) => !candidates.some((c) => c.available && !c.draining && servesPlatform(c.platforms, p)));
  if (missing.length > 0) return { kind: "unservable", platforms: missing };
  const whole = walk(ring, byRing, hashString(key), (c) => platforms.every((p) => servesPlatform(c.platforms, p)), limits);
  if (whole.kind !== "unservable" || platforms.length < 2 || !options.split) return whole;

  const byPlatform: Record<string, string> = {};
  let busy = false;
  for (const p of platforms) {
    const part = walk(ring, byRing, hashString(key), (c) => servesPlatform(c.platforms, p), limits);
    if (part.kind === "chosen") byPlatform[p] = part.name;
    else busy = true; // every platform has a usable builder (checked above), so a part that is not chosen is busy
  }
  return busy ? { kind: "busy" } : { kind: "split", byPlatform };
}

/** Whether a builder given `platforms` serves `required`: `linux/arm64` and `linux/arm64/v8` are one platform, and `os/arch` is served by any of its variants. */
export function servesPlatform(platforms: readonly string[], required: string): boolean {
  if (platforms.includes(required)) return true;
  const want = normalizePlatform(required);
  const anyVariant = want.split("/").length === 2;
  return platforms.some((given) => {
    const p = normalizePlatform(given);
    return p === want || (anyVariant && p.startsWith(`${want}/`));
  });
}

function normalizePlatform(platform: string): string {
  const [os, arch, variant] = platform.split("/");
  // containerd's normalisation: v8 is arm64's only variant, so it is left out.
  return arch === "arm64" && variant === "v8" ? `${os}/arm64` : platform;
}

interface Ring {
  /** Builder names, sorted: a point's owner is an index into this. */
  names: string[];
  /** The points' hashes, ascending, and each point's owner. */
  hashes: Uint32Array;
  owners: Uint32Array;
  /** Per-walk marks: a builder is seen in the current walk when its mark equals `generation`. */
  marks: Uint32Array;
  generation: number;
}

/** A ring as seen from one order of the candidates: `slots[i]` is the ring's index of the i-th candidate. */
interface Placement {
  order: string[];
  ring: Ring;
  slots: Uint32Array;
}

/** The last placement used (the usual hit: the pool lists its builders in the same order every time), then caches by order and by set. */
let recent: Placement | undefined;
const BY_ORDER = new Map<string, Placement>();
const BY_SET = new Map<string, Ring>();
const MAX_RINGS = 16;

function placementFor(candidates: readonly BuilderCandidate[]): Placement {
  if (recent && recent.order.length === candidates.length && candidates.every((c, i) => c.name === recent?.order[i])) return recent;
  const order = candidates.map((c) => c.name);
  const orderId = order.join("\u0000");
  let placement = BY_ORDER.get(orderId);
  if (!placement) {
    const names = [...order].sort();
    for (let i = 1; i < names.length; i++) {
      if (names[i] === names[i - 1]) throw new RangeError(`two builders are named "${names[i]}": builder names must be unique`);
    }
    const setId = names.join("\u0000");
    const ring = BY_SET.get(setId) ?? buildRing(names);
    remember(BY_SET, setId, ring);
    const index = new Map(names.map((n, i) => [n, i]));
    placement = { order, ring, slots: Uint32Array.from(order, (n) => index.get(n) as number) };
    remember(BY_ORDER, orderId, placement);
  }
  recent = placement;
  return placement;
}

function remember<T>(cache: Map<string, T>, id: string, value: T): void {
  if (!cache.has(id) && cache.size >= MAX_RINGS) cache.delete(cache.keys().next().value as string);
  cache.set(id, value);
}

function buildRing(names: string[]): Ring {
  const points: Array<{ hash: number; owner: number }> = [];
  names.forEach((name, owner) => {
    for (let v = 0; v < VIRTUAL_NODES; v++) points.push({ hash: hashString(`${name}\u0000${v}`), owner });
  });
  // Ties (rare) go by name, so the order never depends on the order the candidates came in.
  points.sort((a, b) => a.hash - b.hash || ((names[a.owner] as string) < (names[b.owner] as string) ? -1 : 1));
  return {
    names,
    hashes: Uint32Array.from(points, (p) => p.hash),
    owners: Uint32Array.from(points, (p) => p.owner),
    marks: new Uint32Array(names.length),
    generation: 0,
  };
}

function walk(
  ring: Ring,
  byRing: ReadonlyArray<BuilderCandidate | undefined>,
  keyHash: number,
  serves: (c: BuilderCandidate) => boolean,
  limits: { loadFactor: number; lightLoad: number },
): BuilderChoice {
  let eligible = 0;
  let load = 1; // this build
  let capacity = 0; // NaN once a builder has no maxConcurrent
  for (const c of byRing) {
    if (c && c.available && !c.draining && serves(c)) {
      eligible++;
      load += c.running;
      capacity += c.maxConcurrent ?? Number.NaN;
    }
  }
  if (eligible === 0) return { kind: "unservable", platforms: [] };
  // The small epsilon keeps a product like 1.1 × 10 = 11.000000000000002 from rounding up to 12.
  const bound = load <= limits.lightLoad * capacity + 1e-9 ? Infinity : Math.ceil((limits.loadFactor * load) / eligible - 1e-9);

  ring.generation = (ring.generation + 1) >>> 0;
  if (ring.generation === 0) {
    ring.marks.fill(0);
    ring.generation = 1;
  }
  const points = ring.hashes.length;
  let seen = 0;
  let spill: string | undefined;
  for (let step = 0, i = lowerBound(ring.hashes, keyHash); step < points && seen < eligible; step++, i = i + 1 === points ? 0 : i + 1) {
    const owner = ring.owners[i] as number;
    if (ring.marks[owner] === ring.generation) continue;
    ring.marks[owner] = ring.generation;
    const c = byRing[owner];
    if (!c || !c.available || c.draining || !serves(c)) continue;
    seen++;
    const room = c.maxConcurrent === undefined || c.running < c.maxConcurrent;
    if (room && c.running < bound) return { kind: "chosen", name: c.name };
    if (room) spill ??= c.name;
  }
  return spill !== undefined ? { kind: "chosen", name: spill } : { kind: "busy" };
}

/** The first index whose hash is ≥ `hash` (0 past the end: the ring wraps). */
function lowerBound(hashes: Uint32Array, hash: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((hashes[mid] as number) < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

/** FNV-1a over the UTF-16 code units, then murmur3's 32-bit finaliser (FNV-1a alone spreads near-equal names badly). */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
