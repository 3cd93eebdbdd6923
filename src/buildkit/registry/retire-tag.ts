import { createHash, randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { InvalidRequestError, RegistryError } from "../errors.js";
import { registryClientFor } from "./client-for.js";
import type { RegistryAccess } from "./client-for.js";
import { fullRepository, parseImageReference } from "./image-reference.js";
import { MediaType } from "./manifest-media-types.js";
import type { RegistryClient } from "./registry-client.js";

/** `{}` — the OCI "empty" config blob. */
const EMPTY_CONFIG = Buffer.from("{}");
const EMPTY_CONFIG_DIGEST = digestOf(EMPTY_CONFIG);

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * A manifest with no layers that only says what it is, for one `repository:tag`. Naming the tag makes its digest
 * the tag's own: deleting it by digest removes that one tag and nothing else (no other tag, branch or release, can
 * point at these bytes), and the same tag retired twice gets the same bytes.
 */
export function placeholderManifest(configDigest: string, repository: string, tag: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: EMPTY_CONFIG.length },
      layers: [],
      annotations: {
        "org.opencontainers.image.description": "buildkit-bot retired tag placeholder; safe to delete",
        "org.opencontainers.image.ref.name": `${repository}:${tag}`,
      },
    }),
  );
}

/** The digest of `repository:tag`'s placeholder (with the empty config blob every registry stores the same way). */
export function placeholderDigest(repository: string, tag: string): string {
  return digestOf(placeholderManifest(EMPTY_CONFIG_DIGEST, repository, tag));
}

/** What became of one tag. */
export type RetireOutcome =
  /** The tag is gone. */
  | "deleted"
  /** The tag did not exist. */
  | "absent"
  /** The tag points at a digest it was not expected to: left alone. */
  | "moved"
  /**
   * The registry refuses deletes (405, or 401/403 for the delete action): the tag was left as it was (asked first),
   * or, when only the delete itself was refused, points at its placeholder.
   */
  | "refused"
  /** The tag no longer pins its image (it points at its placeholder), but the placeholder could not be deleted. */
  | "kept"
  /** Nothing could be done (the registry failed); `transient` says whether trying later may help. */
  | "failed";

export interface RetiredTag {
  /** `host/path:tag`. */
  name: string;
  outcome: RetireOutcome;
  /** Why, for every outcome but `deleted` and `absent`. */
  detail?: string;
  transient?: boolean;
}

/**
 * Registries cannot delete a tag (Distribution 2.x answers 400 to `DELETE …/manifests/<tag>`), and deleting the
 * image's digest would remove every tag on it — a branch or release tag that shares the digest included. So the tag
 * is pointed at its own placeholder first (it then no longer pins the image), and the placeholder's digest — never
 * the image's — is deleted, which removes the tag with it. `expect` (digests) leaves a tag that points elsewhere
 * alone. Never throws: a failure is the tag's outcome.
 */
export async function retireTag(client: RegistryClient, repository: string, tag: string, expect?: readonly string[]): Promise<Omit<RetiredTag, "name">> {
  const own = placeholderDigest(repository, tag);
  try {
    const current = await client.headManifest(repository, tag);
    if (!current) return { outcome: "absent" };
    if (current.digest !== own) {
      if (expect && !expect.includes(current.digest)) return { outcome: "moved", detail: `points at ${current.digest}, not at an image this clean-up may retire` };
      const stored = await retryingRaces(async () => {
        const configDigest = (await client.hasBlob(repository, EMPTY_CONFIG_DIGEST).catch(() => false)) ? EMPTY_CONFIG_DIGEST : await client.putBlob(repository, EMPTY_CONFIG);
        return client.putManifest(repository, tag, { mediaType: MediaType.OciManifest, body: placeholderManifest(configDigest, repository, tag) });
      });
      // A registry that stored other bytes than ours: deleting that digest could reach further than this tag.
      if (stored !== own) return { outcome: "kept", detail: `the registry stored the placeholder as ${stored}, expected ${own}: not deleted` };
    }
  } catch (err) {
    return failure(err, "failed");
  }
  try {
    await retryingRaces(() => client.deleteManifest(repository, own));
    return { outcome: "deleted" };
  } catch (err) {
    // Retired twice at once: the other delete removed our tag.
    if (err instanceof RegistryError && err.status === 404) return { outcome: "deleted" };
    return failure(err, isDeleteRefusal(err) ? "refused" : "kept");
  }
}

function failure(err: unknown, outcome: RetireOutcome): Omit<RetiredTag, "name"> {
  const transient = err instanceof RegistryError && (err.status === undefined || err.status >= 500 || err.status === 429);
  return { outcome, detail: err instanceof Error ? err.message : String(err), ...(transient ? { transient } : {}) };
}

/** 405 (Distribution without `storage.delete.enabled`), 401/403 (no right to delete), or Distribution's UNSUPPORTED. */
function isDeleteRefusal(err: unknown): boolean {
  return err instanceof RegistryError && (err.status === 405 || err.status === 401 || err.status === 403 || err.registryCode === "UNSUPPORTED");
}

/**
 * Whether the registry deletes manifests in `repository`, asked without touching anything: a DELETE of a digest
 * nobody stored. Distribution answers 404 when deletes are on and 405 when they are off (its delete switch is checked
 * before the lookup); 401/403 mean these credentials may not delete. Returns the refusal, or undefined when deletes
 * look allowed (any other answer: the real delete will tell).
 */
export async function deleteRefusal(client: RegistryClient, repository: string): Promise<string | undefined> {
  try {
    await client.deleteManifest(repository, digestOf(randomBytes(32)));
    return undefined;
  } catch (err) {
    return isDeleteRefusal(err) ? (err as Error).message : undefined;
  }
}

export interface RetireTagsOptions extends RegistryAccess {
  /** `host/path:tag`, each with the digests it may point at (absent: any; the tag's own placeholder always counts). */
  tags: ReadonlyArray<{ name: string; expect?: readonly string[] }>;
}

/**
 * Deletes tags where the registry allows it, through `retireTag`, one repository at a time. Each repository is
 * first asked whether it deletes at all (`deleteRefusal`): if not, its tags are answered `refused` and left exactly
 * as they were. Throws only on a name that is not a tag.
 */
export async function retireTags(opts: RetireTagsOptions): Promise<RetiredTag[]> {
  const byRepository = new Map<string, { registry: string; repository: string; tags: Array<{ name: string; tag: string; expect?: readonly string[] }> }>();
  for (const { name, expect } of opts.tags) {
    const ref = parseImageReference(name);
    if (ref.digest || !ref.tag) throw new InvalidRequestError(`cannot retire "${name}": a tag is needed, not a digest`);
    const full = fullRepository(ref);
    const entry = byRepository.get(full) ?? { registry: ref.registry, repository: ref.repository, tags: [] };
    entry.tags.push({ name, tag: ref.tag, ...(expect ? { expect } : {}) });
    byRepository.set(full, entry);
  }
  const results: RetiredTag[] = [];
  for (const target of byRepository.values()) {
    const client = registryClientFor(target.registry, opts);
    const refused = await deleteRefusal(client, target.repository);
    for (const { name, tag, expect } of target.tags) {
      if (refused) {
        results.push({ name, outcome: "refused", detail: refused });
        continue;
      }
      results.push({ name, ...(await retireTag(client, target.repository, tag, expect)) });
    }
  }
  return results;
}

/** Distribution's codes for a link file it read while another request was rewriting it. */
const RACED_CODES = new Set(["DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"]);
const RACE_ATTEMPTS = 5;

/**
 * Tags retired at once in one repository share the empty config blob. Distribution rewrites a link file
 * (truncating it first) on every upload of a blob or tag, and a request that reads that link in the moment — a
 * manifest put verifying its config, a delete looking up the tags to remove — answers DIGEST_INVALID; a delete that
 * finds a tag already gone answers 500. Uploading the blob only when missing narrows the window; retrying closes it
 * (a retried delete then finds the placeholder gone: a 404).
 */
async function retryingRaces<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const raced =
        err instanceof RegistryError &&
        ((err.status === 400 && RACED_CODES.has(err.registryCode ?? "")) || (err.status !== undefined && err.status >= 500));
      if (!raced || attempt >= RACE_ATTEMPTS) throw err;
      await delay(20 * attempt + Math.random() * 20);
    }
  }
}
