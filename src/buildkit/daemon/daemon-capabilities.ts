import type { DaemonProfile } from "./daemon-profile.js";

/**
 * What the connected daemon can do; decides how a BuildRequest is encoded. The profile says how its kind differs
 * (docs/buildkit-wire.md#engine-exporter); the BuildKit version, what its release has
 * (docs/buildkit-wire.md#version-matrix).
 */
export interface DaemonCapabilities {
  /** How this kind of daemon differs from the others, chosen once while connecting. */
  profile: DaemonProfile;
  /** What health reports and build logs call it (the profile's `daemon`). */
  daemon: DaemonProfile["daemon"];
  /** BuildKit version as reported or derived from the Engine version, e.g. `v0.8.3`; undefined when unknown. */
  buildkitVersion?: string;
  /** Git contexts accept `#ref:subdir` (BuildKit ≥ 0.9; 0.8 answers "subdir not supported yet"). */
  gitSubdirFragment: boolean;
  /**
   * Attestations (provenance, SBOM) can be pushed with an image: BuildKit ≥ 0.11 and an exporter that writes an
   * index (not the classic Engine store, which holds one platform per image).
   */
  attestations: boolean;
}

/** The capabilities of a daemon of `profile` running BuildKit `buildkitVersion`. */
export function daemonCapabilities(profile: DaemonProfile, buildkitVersion: string | undefined): DaemonCapabilities {
  return {
    profile,
    daemon: profile.daemon,
    buildkitVersion,
    gitSubdirFragment: supportsGitSubdirFragment(buildkitVersion),
    attestations: supportsAttestations(profile, buildkitVersion),
  };
}

/** `attest:*` frontend attributes came with BuildKit v0.11 (docs/buildkit-wire.md#version-matrix); older ones ignore them. */
export function supportsAttestations(profile: DaemonProfile, buildkitVersion: string | undefined): boolean {
  const v = parseMinorVersion(buildkitVersion);
  return v !== undefined && (v[0] > 0 || v[1] >= 11) && profile.refusal("multi-platform-image") === undefined;
}

/** `v0.11.6`, `0.8.2+abc` → [major, minor]; undefined when not a version. */
export function parseMinorVersion(version: string | undefined): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version ?? "");
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * The lowest BuildKit version a Docker Engine release embeds, as far as capability checks need it
 * (docs/buildkit-wire.md#engine-versions: 20.10 → v0.8, 23.0 → v0.10, later releases newer still); undefined when
 * not known.
 */
export function engineBuildkitVersion(engineVersion: string | undefined): string | undefined {
  const v = parseMinorVersion(engineVersion);
  if (!v || v[0] < 20) return undefined;
  return v[0] === 20 ? "v0.8" : "v0.10";
}

export function supportsGitSubdirFragment(buildkitVersion: string | undefined): boolean {
  const v = parseMinorVersion(buildkitVersion);
  return v !== undefined && (v[0] > 0 || v[1] >= 9);
}
