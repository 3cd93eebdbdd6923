import type { BuildJob } from "./job-types.js";

/** Who made a build obsolete. */
export interface SupersededBy {
  sha: string;
  buildId: string;
  /** Why, when no newer commit replaced it (a merge group GitHub destroyed): said instead of "superseded by …". */
  note?: string;
}

/**
 * What the queue calls once it has superseded a build (taken it out of the queue, or cancelled it on its worker):
 * the build's public record ends there. The app's is the build trail (check run `cancelled`, status `error`, both
 * with `supersededMessage(by.sha)`); tests use a recording one.
 */
export interface SupersedeListener {
  superseded(build: BuildJob, by: SupersededBy): Promise<void>;
}

export function supersededMessage(sha: string): string {
  return `superseded by ${sha.slice(0, 7)}`;
}

/** What a superseded build's check run, log and job say. */
export function supersededText(by: SupersededBy): string {
  return by.note ?? supersededMessage(by.sha);
}
