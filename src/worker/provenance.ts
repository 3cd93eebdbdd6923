import { readImageAttestations } from "@buildkit-bot/buildkit";
import type { BuildRequest, BuildResult, DaemonCapabilities } from "@buildkit-bot/buildkit";
import type { ProvenanceReport } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";

/**
 * Puts the plan's attestations on a request that pushes an image, when the daemon can make them. Returns the one
 * sentence the check run says when it cannot (BuildKit older than v0.11, e.g. the Engine 20.10's 0.8, or the classic
 * Engine store): the build goes on without them.
 */
export function requestAttestations(job: BuildJob, request: BuildRequest, capabilities: DaemonCapabilities): string | undefined {
  const asked = job.image.attestations;
  if (!asked || job.fork || request.output?.type !== "image" || !request.output.push) return undefined;
  if (!capabilities.attestations) return attestationsNote(capabilities, asked);
  request.attestations = { ...(asked.provenance ? { provenance: asked.provenance } : {}), ...(asked.sbom ? { sbom: true } : {}) };
  return undefined;
}

function attestationsNote(capabilities: DaemonCapabilities, asked: NonNullable<BuildJob["image"]["attestations"]>): string {
  const what = asked.provenance ? "Provenance attestations need" : "SBOM attestations need";
  const store = capabilities.profile.refusal("multi-platform-image") ? " and an image store that holds an index" : "";
  return `${what} BuildKit v0.11 or newer${store}; this builder runs BuildKit ${capabilities.buildkitVersion ?? "(unknown version)"} (${capabilities.daemon}), so the image was pushed without one.`;
}

/**
 * After the push: the provenance attestation's digest (one per platform), read back from the pushed index, and
 * the image reference to inspect it by; or the note saying why there is none. Undefined when none was asked for or
 * nothing was pushed. Reading it back is best effort: a registry error becomes the note, the build stays green.
 */
export async function provenanceReport(
  job: BuildJob,
  build: { request: BuildRequest; pushTags: readonly string[]; client: { capabilities(): Promise<DaemonCapabilities> } },
  result: Pick<BuildResult, "digest">,
  signal?: AbortSignal,
): Promise<ProvenanceReport | undefined> {
  const asked = job.image.attestations?.provenance;
  const output = build.request.output;
  const name = build.pushTags[0];
  if (!asked || job.fork || !name || output?.type !== "image" || !output.push) return undefined;
  if (!build.request.attestations?.provenance) {
    return { note: attestationsNote(await build.client.capabilities(), { provenance: asked }) };
  }
  if (!result.digest) return { mode: asked, note: "The daemon reported no digest for the pushed image, so its attestation could not be looked up." };
  const image = `${name.replace(/:[^:/]+$/, "")}@${result.digest}`;
  try {
    const found = await readImageAttestations({
      name,
      digest: result.digest,
      credentials: build.request.registryAuth ?? [],
      ...(output.insecure ? { insecure: true } : {}),
      ...(signal ? { signal } : {}),
    });
    if (found.length === 0) return { mode: asked, note: "BuildKit was asked for a provenance attestation, but the pushed image carries none." };
    return { mode: asked, image, attestations: found.map((a) => ({ digest: a.digest, ...(a.platform ? { platform: a.platform } : {}) })) };
  } catch (err) {
    if (signal?.aborted) throw err;
    return { mode: asked, image, note: `The attestation was pushed, but reading it back failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
