import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { CacheEntry } from "../build-request.js";
import { InvalidRequestError, SolveError } from "../errors.js";
import { localCacheStoreId } from "../session/content-store-service.js";
import { findTagged, putOciIndexEntry, readOciIndex } from "../session/oci-index.js";
import type { OciDescriptor } from "../session/oci-index.js";
import { OciLayoutStore } from "../session/oci-layout-store.js";

/**
 * `type=local` caches (OCI layouts on the client): buildkitd reads and writes their blobs through the session's
 * content store under the store id `local:<dir>`; an import names the cache manifest's digest, which the client
 * looks up in `index.json`; after an export the client records the manifest the daemon reports (`cache.manifest`)
 * in `index.json`. The tag is `latest`, as buildctl's default.
 */

export const LOCAL_CACHE_TAG = "latest";
/** The Solve response key holding the exported cache manifest's descriptor (JSON). */
export const CACHE_MANIFEST_KEY = "cache.manifest";

export type LocalCacheLookup = { digest: string } | { skipped: string };

export interface LocalCachePlan {
  /** Store id → directory: what the session's content store serves. */
  stores: Map<string, string>;
  /** Directories whose `index.json` records the exported cache. */
  exportDirs: string[];
  /** Imports left out, and why (a first build has no cache yet). */
  skipped: string[];
}

/** Reads `index.json` of every `type=local` import: the cache manifest tagged `latest`, or why there is none. */
export async function lookUpLocalCaches(imports: readonly CacheEntry[]): Promise<Map<string, LocalCacheLookup>> {
  const found = new Map<string, LocalCacheLookup>();
  for (const entry of imports) {
    if (entry.type !== "local" || !entry.attrs?.src) continue;
    const dir = resolve(entry.attrs.src);
    if (!found.has(dir)) found.set(dir, await lookUp(dir));
  }
  return found;
}

async function lookUp(dir: string): Promise<LocalCacheLookup> {
  try {
    const index = await readOciIndex(dir);
    if (!index) return { skipped: `local cache ${dir} has no index.json yet; building without it` };
    const manifest = findTagged(index, LOCAL_CACHE_TAG);
    if (!manifest) return { skipped: `local cache ${dir} has no cache tagged ${LOCAL_CACHE_TAG}; building without it` };
    if (!(await new OciLayoutStore(dir).info(manifest.digest))) {
      return { skipped: `local cache ${dir} lacks its manifest blob ${manifest.digest}; building without it` };
    }
    return { digest: manifest.digest };
  } catch (error) {
    return { skipped: `local cache ${dir} cannot be read (${error instanceof Error ? error.message : String(error)}); building without it` };
  }
}

/**
 * The cache entries as the daemon gets them (local imports with their digest, skipped ones left out) and the
 * stores to serve. No I/O: the lookups were made before.
 */
export function planLocalCaches(
  imports: readonly CacheEntry[],
  exports: readonly CacheEntry[],
  lookups: ReadonlyMap<string, LocalCacheLookup>,
): { imports: CacheEntry[]; exports: CacheEntry[]; plan?: LocalCachePlan } {
  const plan: LocalCachePlan = { stores: new Map(), exportDirs: [], skipped: [] };
  const sentImports: CacheEntry[] = [];
  for (const entry of imports) {
    if (entry.type !== "local") {
      sentImports.push(entry);
      continue;
    }
    const dir = localDir(entry, "src");
    const lookup = lookups.get(dir) ?? { skipped: `local cache ${dir} was not looked up; building without it` };
    if ("skipped" in lookup) {
      plan.skipped.push(lookup.skipped);
      continue;
    }
    plan.stores.set(localCacheStoreId(dir), dir);
    sentImports.push({ type: "local", attrs: { src: dir, digest: lookup.digest } });
  }
  const sentExports: CacheEntry[] = [];
  for (const entry of exports) {
    if (entry.type !== "local") {
      sentExports.push(entry);
      continue;
    }
    const dir = localDir(entry, "dest");
    plan.stores.set(localCacheStoreId(dir), dir);
    if (!plan.exportDirs.includes(dir)) plan.exportDirs.push(dir);
    sentExports.push({ type: "local", attrs: { ...entry.attrs, dest: dir } });
  }
  const used = plan.stores.size > 0 || plan.skipped.length > 0;
  return used ? { imports: sentImports, exports: sentExports, plan } : { imports: sentImports, exports: sentExports };
}

function localDir(entry: CacheEntry, key: "src" | "dest"): string {
  const dir = entry.attrs?.[key];
  if (!dir) throw new InvalidRequestError(`a type=local cache ${key === "src" ? "import needs src" : "export needs dest"}=DIR`);
  return resolve(dir);
}

/** One store per planned directory; export directories are created. */
export async function openLocalCacheStores(plan: LocalCachePlan): Promise<Map<string, OciLayoutStore>> {
  for (const dir of plan.exportDirs) await mkdir(dir, { recursive: true });
  const byDir = new Map<string, OciLayoutStore>();
  const stores = new Map<string, OciLayoutStore>();
  for (const [id, dir] of plan.stores) {
    const store = byDir.get(dir) ?? new OciLayoutStore(dir);
    byDir.set(dir, store);
    stores.set(id, store);
  }
  return stores;
}

export async function closeLocalCacheStores(stores: ReadonlyMap<string, OciLayoutStore>): Promise<void> {
  await Promise.all([...new Set(stores.values())].map((store) => store.close()));
}

/**
 * Records the exported cache manifest (`cache.manifest` in the Solve response) in each export directory's
 * `index.json` under `latest`, keeping every other entry. Returns false when the daemon named no manifest.
 */
export async function recordExportedCache(plan: LocalCachePlan, exporterResponse: Record<string, string>): Promise<boolean> {
  if (plan.exportDirs.length === 0) return true;
  const json = exporterResponse[CACHE_MANIFEST_KEY];
  if (!json) return false;
  const descriptor = parseDescriptor(json);
  for (const dir of plan.exportDirs) {
    try {
      await putOciIndexEntry(dir, descriptor, LOCAL_CACHE_TAG);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new SolveError(`the cache was exported to ${dir}, but its index.json could not be updated: ${reason}`, { cause: error });
    }
  }
  return true;
}

function parseDescriptor(json: string): OciDescriptor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new SolveError(`the daemon's ${CACHE_MANIFEST_KEY} is not JSON`);
  }
  const d = parsed as Partial<OciDescriptor> | null;
  if (typeof d !== "object" || d === null || typeof d.digest !== "string" || typeof d.size !== "number") {
    throw new SolveError(`the daemon's ${CACHE_MANIFEST_KEY} is not an OCI descriptor`);
  }
  return d as OciDescriptor;
}
