import type { ImageConfig } from "../config/index.js";
import type { ImagePlan } from "../queue/index.js";
import type { PlanTarget } from "./plan-target.js";

/**
 * The attestations a build of `target` carries: provenance `max` for branch and tag builds, `min` for pull
 * requests' images (a same-repository pull request's merged plan included), each unless the config says otherwise;
 * an SBOM only when the config asks for one. None for an image that is not pushed (they travel only with a push).
 */
export function attestationsFor(target: PlanTarget, image: Pick<ImageConfig, "provenance" | "sbom">, push: boolean): Pick<ImagePlan, "attestations"> {
  if (!push) return {};
  const pullRequest = target.kind === "pull_request" || (target.kind === "branch" && target.pullRequest !== undefined);
  const mode = pullRequest ? (image.provenance?.pullRequests ?? "min") : (image.provenance?.pushes ?? "max");
  const out: NonNullable<ImagePlan["attestations"]> = {
    ...(mode !== "none" ? { provenance: mode } : {}),
    ...(image.sbom ? { sbom: true as const } : {}),
  };
  return out.provenance || out.sbom ? { attestations: out } : {};
}
