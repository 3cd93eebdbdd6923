import type { Redis } from "ioredis";
import { isObject, JsonRecordStore } from "../records/index.js";

/** Which image: one image of one repository, built from one git tree with one image config. */
export interface ReusableImageKey {
  installationId: number;
  repoId: number;
  image: string;
  /** The git tree of the commit built (`tree.sha` of the commit). */
  tree: string;
  /** imageConfigHash of the plan built. */
  configHash: string;
}

/** A pull request's build that pushed the image: what a merge group of the same tree may copy. */
export interface ReusableImage {
  /** The pushed manifest or index, `sha256:…`. */
  digest: string;
  /** The registry repository it was pushed to (`host/path`, no tag): a copy is made only within it. */
  repository: string;
  /** The commit built (the pull request's head). */
  sha: string;
  pr: number;
  /** When it was pushed (ms since the epoch). */
  pushedAt: number;
}

/** Long enough for a pull request to wait in a merge queue; a record outliving its image only costs a fallback build. */
export const REUSABLE_IMAGE_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Pull requests' pushed images by repository, image, tree and config hash, in Redis with a TTL. Digests, shas and
 * references only: nothing secret. The newest build of a key wins.
 */
export class ReusableImages {
  readonly #records: JsonRecordStore<ReusableImageKey, ReusableImage>;

  constructor(redis: Redis, prefix: string, ttlSeconds = REUSABLE_IMAGE_TTL_SECONDS) {
    this.#records = new JsonRecordStore(redis, prefix, {
      keyOf: (k) => ["reusable-image", String(k.installationId), String(k.repoId), encodeURIComponent(k.image), k.tree, k.configHash],
      isRecord: isReusableImage,
      ttlSeconds,
    });
  }

  note(key: ReusableImageKey, image: ReusableImage): Promise<void> {
    return this.#records.write(key, image);
  }

  /** The image, or undefined when none was noted (or the record is not one this code wrote). */
  find(key: ReusableImageKey): Promise<ReusableImage | undefined> {
    return this.#records.read(key);
  }
}

function isReusableImage(v: unknown): v is ReusableImage {
  return (
    isObject(v) &&
    typeof v.digest === "string" && /^sha256:[0-9a-f]{64}$/.test(v.digest) &&
    typeof v.repository === "string" &&
    typeof v.sha === "string" && /^[0-9a-f]{40,64}$/.test(v.sha) &&
    Number.isSafeInteger(v.pr) &&
    typeof v.pushedAt === "number"
  );
}
