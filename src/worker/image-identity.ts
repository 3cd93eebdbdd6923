import { createHash } from "node:crypto";
import type { ImagePlan } from "../queue/index.js";

/**
 * What of an image's plan shapes the image itself. Not in the list: its name (part of the reuse key already), where
 * it is tagged and pushed, its cache, the moving-tags check, the size-diff base, the reuse switch: two builds that
 * differ only there push the same image. A field added to the plan that shapes the image must be added here.
 */
export const IMAGE_SHAPING_FIELDS = ["context", "dockerfile", "target", "platforms", "buildArgs", "labels", "secrets", "checksFailOn", "attestations"] as const;

/**
 * A stable hash of everything in `image` that shapes the built image: the same for two plans that build the same
 * image from the same tree, whatever their key order, tags or cache. The per-build labels (revision, created,
 * source) are not in the plan: the worker adds them. Lists keep their order (a platform list's order is the
 * index's), except `secrets`, which is a set.
 *
 * Attestations count by whether there is a provenance and an SBOM, not by the provenance's mode: a pull request's
 * image carries `mode=min` and a merge group (a branch) asks for `max`, and a reused image keeps the pull request's
 * attestation (see the README's merge queue reuse). A group that wants one never gets an image without one.
 */
export function imageConfigHash(image: ImagePlan): string {
  const fields = image as unknown as Record<string, unknown>;
  const shaping: Record<string, unknown> = {};
  for (const key of IMAGE_SHAPING_FIELDS) {
    const value = fields[key];
    if (value === undefined) continue;
    if (key === "secrets" && Array.isArray(value)) shaping[key] = [...(value as string[])].sort();
    else if (key === "attestations" && value !== null && typeof value === "object") {
      const a = value as { provenance?: unknown; sbom?: unknown };
      if (a.provenance !== undefined || a.sbom === true) shaping[key] = { provenance: a.provenance !== undefined, sbom: a.sbom === true };
    } else shaping[key] = value;
  }
  return createHash("sha256").update(canonicalJson(shaping)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A merge group's branch, `refs/heads/gh-readonly-queue/<base>/pr-<N>-<sha>`: its base branch, its last pull request and that PR's head. */
export interface MergeQueueRef {
  base: string;
  pr: number;
  prHeadSha: string;
}

/** The merge group a ref names, or undefined for any other ref (a branch, a tag, a malformed queue branch). */
export function mergeQueueRefOf(ref: string | undefined): MergeQueueRef | undefined {
  const m = /^refs\/heads\/gh-readonly-queue\/(.+)\/pr-([1-9]\d{0,9})-([0-9a-f]{40}|[0-9a-f]{64})$/.exec(ref ?? "");
  if (!m) return undefined;
  const pr = Number(m[2]);
  return Number.isSafeInteger(pr) ? { base: m[1]!, pr, prHeadSha: m[3]! } : undefined;
}
