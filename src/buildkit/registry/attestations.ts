import { InvalidRequestError } from "../errors.js";
import { registryClientFor } from "./client-for.js";
import type { RegistryAccess } from "./client-for.js";
import { parseImageReference } from "./image-reference.js";
import { MediaType } from "./manifest-media-types.js";

/** One entry of an image index's `manifests`. */
export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/** The annotation BuildKit sets on an attestation manifest's index entry (docs/attestations/attestation-storage.md). */
export const REFERENCE_TYPE_ANNOTATION = "vnd.docker.reference.type";
/** The digest of the image manifest an attestation manifest describes. */
export const REFERENCE_DIGEST_ANNOTATION = "vnd.docker.reference.digest";

/**
 * An attestation manifest's entry: marked `attestation-manifest`, or any `unknown/unknown` platform (a manifest no
 * runtime may pull, whatever made it). Readers that want a platform's image skip these.
 */
export function isAttestationEntry(entry: Pick<IndexEntry, "platform" | "annotations">): boolean {
  if (entry.annotations?.[REFERENCE_TYPE_ANNOTATION] === "attestation-manifest") return true;
  return entry.platform?.os === "unknown" && entry.platform.architecture === "unknown";
}

/** The entries of an index that are images of a platform, attestation manifests left out. */
export function platformEntries(entries: readonly IndexEntry[]): IndexEntry[] {
  return entries.filter((e) => !isAttestationEntry(e));
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);

/** `manifests` of an index body; undefined when the body is a single image manifest. */
export function indexEntries(mediaType: string, body: Buffer | string): IndexEntry[] | undefined {
  const parsed = JSON.parse(typeof body === "string" ? body : body.toString("utf8")) as { mediaType?: unknown; manifests?: unknown };
  const type = typeof parsed.mediaType === "string" ? parsed.mediaType : mediaType;
  if (!INDEX_TYPES.has(type) && !Array.isArray(parsed.manifests)) return undefined;
  return Array.isArray(parsed.manifests) ? (parsed.manifests as IndexEntry[]) : [];
}

/** One attestation manifest of a pushed image. */
export interface ImageAttestation {
  /** The attestation manifest's digest. */
  digest: string;
  /** The image manifest it describes, when the index says. */
  refersTo?: string;
  /** That image's platform (`os/arch[/variant]`), when the index lists it. */
  platform?: string;
}

export interface ReadAttestationsOptions extends RegistryAccess {
  /** The image's repository, with or without a tag: `ghcr.io/owner/app`, `127.0.0.1:5000/acme/app:main`. */
  name: string;
  /** The pushed index's digest, e.g. a solve's `containerimage.digest`. */
  digest: string;
}

/**
 * The attestation manifests of an image pushed as an index, read from the registry (one manifest GET): each with the
 * image manifest it describes and that image's platform. Empty for a single manifest (nothing attached) or an index
 * without attestations. Errors are `RegistryError`s without credentials.
 */
export async function readImageAttestations(opts: ReadAttestationsOptions): Promise<ImageAttestation[]> {
  const ref = parseImageReference(opts.name);
  if (!opts.digest.startsWith("sha256:")) throw new InvalidRequestError(`"${opts.digest}" is not a sha256 digest`);
  const client = registryClientFor(ref.registry, opts);
  const manifest = await client.getManifest(ref.repository, opts.digest);
  const entries = indexEntries(manifest.mediaType, manifest.body);
  if (!entries) return [];
  const platformOf = new Map(platformEntries(entries).map((e) => [e.digest, e.platform ? [e.platform.os, e.platform.architecture, e.platform.variant].filter(Boolean).join("/") : undefined]));
  return entries.filter(isAttestationEntry).map((e) => {
    const refersTo = e.annotations?.[REFERENCE_DIGEST_ANNOTATION];
    const platform = refersTo ? platformOf.get(refersTo) : undefined;
    return { digest: e.digest, ...(refersTo ? { refersTo } : {}), ...(platform ? { platform } : {}) };
  });
}
