/**
 * What a build processor returns when the build ran to an end. A failing build (Dockerfile error, failed
 * step) is reported by throwing — it is never retried — so an outcome is always a finished solve.
 */
export interface BuildOutcome {
  /** Image digest (`sha256:…`) when an image was produced. */
  digest?: string;
  /** References pushed (empty when push is off). */
  pushedTags: string[];
  /** Cache references exported, if any. */
  cacheExported?: string[];
  durationMs: number;
  /** One line for the job record and the check-run summary. */
  summary: string;
}
