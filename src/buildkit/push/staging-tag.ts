import { InvalidRequestError } from "../errors.js";
import { toTag } from "../registry/image-reference.js";

/**
 * Every staging tag starts with this, so people (and retention policies) can recognise what the bot left behind
 * in a repository, and no final tag can collide with one.
 */
export const STAGING_TAG_PREFIX = "buildkit-bot-staging-";

/** The unique, valid (≤ 128 chars) staging tag of one build. */
export function stagingTag(buildRef: string): string {
  if (buildRef.trim() === "") throw new InvalidRequestError("a build ref is needed to name the staging tag");
  return toTag(STAGING_TAG_PREFIX, buildRef);
}

export function isStagingTag(tag: string): boolean {
  return tag.startsWith(STAGING_TAG_PREFIX);
}
