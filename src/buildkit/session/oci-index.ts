import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * `index.json` and `oci-layout` of an OCI image layout used as a `type=local` cache. The daemon writes the cache's
 * blobs through the session's content store and names the cache manifest in the Solve response
 * (`cache.manifest`); the client then records that manifest in `index.json` under a tag, as buildctl does.
 */

export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
/** containerd's full image name annotation; buildctl looks a tag up here first. */
export const IMAGE_NAME_ANNOTATION = "io.containerd.image.name";

export interface OciDescriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface OciIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: OciDescriptor[];
  [key: string]: unknown;
}

export class OciIndexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OciIndexError";
  }
}

const INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";
const LOCK_WAIT_MS = 10_000;
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 60_000;

/** The layout's index, or undefined when it has no `index.json`. */
export async function readOciIndex(dir: string): Promise<OciIndex | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, "index.json"), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parseIndex(text, dir);
}

/**
 * The descriptor tagged `tag`: by image name first, as buildctl resolves it, then by OCI ref name, preferring an
 * entry without an image name (the form `putOciIndexEntry` writes) over an image's entry whose tag is the same.
 */
export function findTagged(index: OciIndex, tag: string): OciDescriptor | undefined {
  const byRefName = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  return (
    index.manifests.find((m) => m.annotations?.[IMAGE_NAME_ANNOTATION] === tag) ??
    byRefName.find((m) => m.annotations?.[IMAGE_NAME_ANNOTATION] === undefined) ??
    byRefName[0]
  );
}

/**
 * Records `descriptor` under `tag` in `DIR/index.json`: entries with the same tag (and no image name) are
 * replaced, every other entry is kept. Writes `oci-layout` too. The update holds `index.json.lock` (created
 * exclusively) and replaces `index.json` by rename, so readers never see a half-written file.
 */
export async function putOciIndexEntry(dir: string, descriptor: OciDescriptor, tag: string): Promise<void> {
  const release = await lock(join(dir, "index.json.lock"));
  try {
    await writeAtomically(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const { schemaVersion, mediaType, manifests, ...rest } = (await readOciIndex(dir)) ?? { schemaVersion: 2, manifests: [] };
    const entry: OciDescriptor = { ...descriptor, annotations: { ...(descriptor.annotations ?? {}), [REF_NAME_ANNOTATION]: tag } };
    delete entry.annotations?.[IMAGE_NAME_ANNOTATION];
    const index: OciIndex = {
      schemaVersion: schemaVersion || 2,
      mediaType: mediaType || INDEX_MEDIA_TYPE,
      ...rest,
      manifests: [...manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag || m.annotations?.[IMAGE_NAME_ANNOTATION] !== undefined), entry],
    };
    await writeAtomically(join(dir, "index.json"), JSON.stringify(index));
  } finally {
    await release();
  }
}

function parseIndex(text: string, dir: string): OciIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OciIndexError(`${join(dir, "index.json")} is not valid JSON`);
  }
  const index = parsed as Partial<OciIndex> | null;
  if (typeof index !== "object" || index === null || Array.isArray(index)) throw new OciIndexError(`${join(dir, "index.json")} is not an OCI index`);
  const manifests = index.manifests ?? [];
  if (!Array.isArray(manifests) || manifests.some((m) => typeof m !== "object" || m === null || typeof m.digest !== "string")) {
    throw new OciIndexError(`${join(dir, "index.json")} has an invalid manifests list`);
  }
  return { ...index, schemaVersion: index.schemaVersion ?? 2, manifests } as OciIndex;
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, content, { mode: 0o644 });
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const held = await stat(path).catch(() => undefined);
    if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new OciIndexError(`${path} is held by another process; remove it if no build is writing this cache`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
