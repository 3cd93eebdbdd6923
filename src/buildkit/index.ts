// The public surface of the BuildKit client library, the package `@buildkit-bot/buildkit` (its exports map points
// here): `import { BuildKitClient } from "@buildkit-bot/buildkit"`. The app and the CLI import nothing deeper.
export { BuildKitClient } from "./client.js";
export type { DaemonHealth, WorkerInfo } from "./client-health.js";
export type { ConnectOptions, TlsOptions } from "./connect-options.js";
export type { SolveOptions } from "./solve/run-solve.js";
export type { DaemonCapabilities } from "./daemon/daemon-capabilities.js";
export { daemonCapabilities } from "./daemon/daemon-capabilities.js";
export type { DaemonFeature, DaemonKind, DaemonProfile } from "./daemon/daemon-profile.js";
export { daemonProfile } from "./daemon/profiles.js";
export type {
  AttestationRequest,
  BuildContext,
  BuildOutput,
  BuildRequest,
  BuildResult,
  BuildTimings,
  CacheEntry,
  RegistryCredential,
} from "./build-request.js";
export * from "./errors.js";
export { Redactor } from "./redact.js";
// Points more tags at an image already pushed (a manifest copy through the registry API, no daemon).
export { tagByDigest } from "./registry/tag-by-digest.js";
export type { TagByDigestOptions } from "./registry/tag-by-digest.js";
// An image's attestation manifests (provenance, SBOM), and the index entries that are images of a platform.
export { indexEntries, isAttestationEntry, platformEntries, readImageAttestations } from "./registry/attestations.js";
export type { ImageAttestation, IndexEntry, ReadAttestationsOptions } from "./registry/attestations.js";
// Deletes tags without touching other tags on the same image (each re-pointed at its own placeholder first).
export { retireTags } from "./registry/retire-tag.js";
export type { RetiredTag, RetireOutcome, RetireTagsOptions } from "./registry/retire-tag.js";
// Joins images pushed by digest (one per platform) into one manifest list under the given tags.
export { pushImageIndex } from "./registry/push-index.js";
export type { IndexPart, PushImageIndexOptions, PushedIndex } from "./registry/push-index.js";
// Reads an image's layers per platform (compressed sizes, the instruction that made each) from its registry.
export { readImageLayers } from "./registry/image-layers.js";
export type { ImageLayer, ImageLayers, PlatformLayers, ReadImageLayersOptions } from "./registry/image-layers.js";
export * from "./progress/index.js";
export type { SessionService } from "./session/service.js";
export { methodPaths } from "./session/service.js";
export { openSession, sessionMetadata } from "./session/session.js";
export type { Session, SessionOptions } from "./session/session.js";
export { healthService } from "./session/health-service.js";
export { secretsService } from "./session/secrets-service.js";
export { authService } from "./session/auth-service.js";
export { parseAddress, formatAddress } from "./transport/address.js";
export type { DaemonAddress } from "./transport/address.js";
export { BuildConfig } from "./build-config.js";
// The option rules the BuildConfig builder applies, for front ends that read options of their own (the CLI).
export * as buildOptions from "./build-options.js";
export type { GitHubSourceOptions } from "./build-config.js";
