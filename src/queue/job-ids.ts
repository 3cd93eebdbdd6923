import { createHash } from "node:crypto";

/**
 * BullMQ job ids: never contain `:` (it separates Redis key parts) and are never all digits (those are
 * reserved for BullMQ's own counter). Every id here starts with a letter and uses only `[A-Za-z0-9._-]`.
 */

const SAFE = /^[A-Za-z0-9._-]+$/;

export function isValidJobId(id: string): boolean {
  return id.length > 0 && id.length <= 200 && SAFE.test(id) && !/^\d+$/.test(id);
}

function shortHash(text: string, length = 10): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** A readable slug of arbitrary text; when anything had to change, a hash of the original keeps it unique. */
function slug(text: string, max: number): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, max);
  return cleaned === text && cleaned.length > 0 ? cleaned : `${cleaned}_h${shortHash(text, 8)}`;
}

/** The event job id for one webhook delivery: the same delivery always maps to the same id. */
export function eventJobId(deliveryId: string): string {
  if (deliveryId.length === 0) throw new RangeError("delivery id is empty");
  return `ev-${slug(deliveryId, 80)}`;
}

export interface BuildIdentity {
  installationId: number;
  repoId: number;
  sha: string;
  image: string;
  attempt: number;
}

/** `bld-<installation>-<repo>-<sha12>-<image slug>-a<attempt>`. */
export function buildJobId(b: BuildIdentity): string {
  if (!Number.isSafeInteger(b.attempt) || b.attempt < 1) throw new RangeError(`attempt must be >= 1, got ${b.attempt}`);
  const sha = /^[0-9a-f]{7,64}$/i.test(b.sha) ? b.sha.slice(0, 12).toLowerCase() : `x${shortHash(b.sha, 12)}`;
  return `bld-${b.installationId}-${b.repoId}-${sha}-${slug(b.image, 60)}-a${b.attempt}`;
}

/** The installation a build id names (`bld-<installation>-…`), or undefined when `id` is not a build id. */
export function installationOfBuildId(id: string): number | undefined {
  const m = /^bld-(\d{1,15})-/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/**
 * Key under which builds supersede each other (`BuildJob.supersedeKey`): a branch or a PR of one repository.
 * Tags never supersede: their key is "" and enqueueBuild skips the supersede step for it.
 */
export function supersedeKey(
  repoId: number,
  target: { kind: "branch"; name: string } | { kind: "pull"; number: number } | { kind: "tag" },
): string {
  switch (target.kind) {
    case "branch":
      return `${repoId}/branch/${target.name}`;
    case "pull":
      return `${repoId}/pull/${target.number}`;
    case "tag":
      return "";
  }
}

/** Redis-key-safe form of a supersede key (keys may hold any bytes, but logs and tools read better this way). */
export function supersedeKeyToken(key: string): string {
  return slug(key, 120);
}
