import { createHash } from "node:crypto";
import { InvalidRequestError, PushRefusedError } from "../errors.js";
import { registryClientFor } from "./client-for.js";
import type { RegistryAccess } from "./client-for.js";
import { fullRepository, parseImageReference } from "./image-reference.js";
import { MediaType } from "./manifest-media-types.js";
import type { RegistryClient } from "./registry-client.js";

export interface IndexPart {
  /** A manifest (or index) already pushed to every repository of `names`, e.g. a solve's `containerimage.digest`. */
  digest: string;
  /** `os/arch[/variant]` of a single-platform manifest; an index part keeps its own manifests' platforms. */
  platform: string;
}

export interface PushImageIndexOptions extends RegistryAccess {
  /** Tagged names to write the index under, e.g. `ghcr.io/owner/app:sha-1234567`. */
  names: readonly string[];
  parts: readonly IndexPart[];
}

export interface PushedIndex {
  digest: string;
  mediaType: string;
  /** `repository:tag` for each name written. */
  tagged: string[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);

/**
 * Joins images pushed by digest (one per platform, built on different builders) into one manifest list, the way
 * `docker buildx imagetools create` does: reads each part from the registry, writes an index referencing them with
 * their platforms (a part that is itself an index contributes its manifests, attestations included), and puts it
 * under every name. A Docker manifest list when every part is a Docker schema-2 manifest, else an OCI index. The
 * index bytes are the same in every repository, so every tag names one digest. Errors are `RegistryError`s
 * (without credentials) or a `PushRefusedError` when a tag was stored as another digest.
 */
export async function pushImageIndex(opts: PushImageIndexOptions): Promise<PushedIndex> {
  if (opts.parts.length === 0) throw new InvalidRequestError("an image index needs at least one part");
  const byRepository = new Map<string, { registry: string; repository: string; tags: string[] }>();
  for (const name of opts.names) {
    const ref = parseImageReference(name);
    if (ref.digest || !ref.tag) throw new InvalidRequestError(`cannot write an index as "${name}": a tag is needed, not a digest`);
    const full = fullRepository(ref);
    const entry = byRepository.get(full) ?? { registry: ref.registry, repository: ref.repository, tags: [] };
    if (!entry.tags.includes(ref.tag)) entry.tags.push(ref.tag);
    byRepository.set(full, entry);
  }
  if (byRepository.size === 0) throw new InvalidRequestError("an image index needs at least one name");

  let index: { mediaType: string; body: Buffer; digest: string } | undefined;
  const tagged: string[] = [];
  for (const [full, target] of byRepository) {
    const client = registryClientFor(target.registry, opts);
    // Read from the first repository; every other one must hold the same parts (the registry refuses the index if not).
    index ??= await composeIndex(client, target.repository, opts.parts);
    for (const tag of target.tags) {
      const stored = await client.putManifest(target.repository, tag, index);
      if (stored !== index.digest) throw new PushRefusedError(target.registry, `${full}:${tag} was stored as ${stored}, expected ${index.digest}`);
      tagged.push(`${full}:${tag}`);
    }
  }
  if (!index) throw new InvalidRequestError("an image index needs at least one name");
  return { digest: index.digest, mediaType: index.mediaType, tagged };
}

async function composeIndex(client: RegistryClient, repository: string, parts: readonly IndexPart[]): Promise<{ mediaType: string; body: Buffer; digest: string }> {
  const manifests: Descriptor[] = [];
  for (const part of parts) {
    const manifest = await client.getManifest(repository, part.digest);
    if (INDEX_TYPES.has(manifest.mediaType)) {
      const inner = JSON.parse(manifest.body.toString("utf8")) as { manifests?: Descriptor[] };
      manifests.push(...(inner.manifests ?? []));
    } else {
      manifests.push({ mediaType: manifest.mediaType, digest: part.digest, size: manifest.body.length, platform: platformOf(part.platform) });
    }
  }
  const seen = new Set<string>();
  const unique = manifests.filter((m) => !seen.has(m.digest) && seen.add(m.digest));
  const mediaType = unique.every((m) => m.mediaType === MediaType.DockerManifest) ? MediaType.DockerManifestList : MediaType.OciIndex;
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: unique }));
  return { mediaType, body, digest: `sha256:${createHash("sha256").update(body).digest("hex")}` };
}

function platformOf(platform: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = platform.split("/");
  if (!os || !architecture) throw new InvalidRequestError(`invalid platform "${platform}": expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}
