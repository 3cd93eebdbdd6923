import type { PlanTarget } from "./plan-target.js";

/**
 * A check run's `external_id` carries what a rebuild needs, because `check_run.pull_requests` is empty for fork
 * pull requests and a check run knows nothing of tags: `v=1&i=<image>&k=b&r=<branch>[&n=<pr>&base=<ref>]`,
 * `k=t&r=<tag>`, `k=p&n=<pr>&base=<ref>[&f=1]`. An empty image (`i=`) names every image (the config check run).
 *
 * GitHub documents no length limit for `external_id`; we stay within 255 characters, the size of a classic
 * string column. A longer one (very long branch names) is replaced by `v=1&h=<hash>` and kept in Redis.
 */
export const EXTERNAL_ID_MAX_LENGTH = 255;

export interface ExternalIdData {
  target: PlanTarget;
  /** "" = every image of the config. */
  image: string;
}

export function encodeExternalId(data: ExternalIdData): string {
  const p = new URLSearchParams({ v: "1", i: data.image });
  const t = data.target;
  switch (t.kind) {
    case "branch":
      p.set("k", "b");
      p.set("r", t.branch);
      if (t.pullRequest) {
        p.set("n", String(t.pullRequest.number));
        p.set("base", t.pullRequest.baseRef);
      }
      break;
    case "tag":
      p.set("k", "t");
      p.set("r", t.tag);
      break;
    case "pull_request":
      p.set("k", "p");
      p.set("n", String(t.number));
      p.set("base", t.baseRef);
      if (t.fork) p.set("f", "1");
      break;
  }
  return p.toString();
}

/** The hash form's key, when `externalId` is one; otherwise undefined. */
export function externalIdHash(externalId: string): string | undefined {
  const p = new URLSearchParams(externalId);
  return p.get("v") === "1" && p.has("h") ? (p.get("h") ?? undefined) : undefined;
}

export function hashedExternalId(hash: string): string {
  return new URLSearchParams({ v: "1", h: hash }).toString();
}

/** Undefined when the id is not one of ours or is malformed (a hand-made check run, an older format). */
export function decodeExternalId(externalId: string): ExternalIdData | undefined {
  const p = new URLSearchParams(externalId);
  if (p.get("v") !== "1") return undefined;
  const image = p.get("i");
  if (image === null) return undefined;
  const number = p.has("n") ? Number(p.get("n")) : undefined;
  if (number !== undefined && (!Number.isSafeInteger(number) || number < 1)) return undefined;
  const ref = p.get("r") ?? "";
  const base = p.get("base") ?? "";
  switch (p.get("k")) {
    case "b":
      if (!ref) return undefined;
      if (number !== undefined && base) {
        return { image, target: { kind: "branch", branch: ref, pullRequest: { number, baseRef: base } } };
      }
      return { image, target: { kind: "branch", branch: ref } };
    case "t":
      return ref ? { image, target: { kind: "tag", tag: ref } } : undefined;
    case "p":
      if (number === undefined || !base) return undefined;
      return { image, target: { kind: "pull_request", number, baseRef: base, fork: p.get("f") === "1" } };
    default:
      return undefined;
  }
}
