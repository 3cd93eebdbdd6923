import { UnsupportedByDaemonError } from "../errors.js";
import type { DaemonFeature, DaemonProfile } from "./daemon-profile.js";

const CLASSIC_STORE = "this Docker Engine stores images without containerd";
const INLINE_ONLY = `${CLASSIC_STORE} and can only export an inline cache`;

/**
 * A Docker Engine on its classic (graphdriver) image store, e.g. Engine 20.10: its `moby` exporter only tags an
 * image in the Engine's store, one platform at a time, so a push goes through the Engine's HTTP API after the
 * solve; and the only cache it exports is the inline one (docs/buildkit-wire.md#engine-exporter).
 */
export const engineClassicProfile: DaemonProfile = {
  kind: "engine-classic",
  daemon: "docker-engine",
  imageExporter: "moby",
  push: "engine-api",
  loopbackRegistryNeedsInsecureFlag: false,
  cacheExportLimit: INLINE_ONLY,
  refusal: classicRefusal,
  exportsCache: (type) => classicRefusal("cache-export", type) === undefined,
};

function classicRefusal(feature: DaemonFeature, type?: string): UnsupportedByDaemonError | undefined {
  switch (feature) {
    case "cache-export":
      if (type === "inline") return undefined;
      return new UnsupportedByDaemonError(
        feature,
        `${INLINE_ONLY} (type=inline), not type=${type}; use a standalone buildkitd for registry and local caches`,
      );
    case "cache-import":
      // Its BuildKit (0.8) does open a local cache, but cannot use the OCI cache manifests a current buildkitd
      // writes (every step runs again), and it exports none itself: a local import could only ever miss.
      if (type !== "local") return undefined;
      return new UnsupportedByDaemonError(feature, `${CLASSIC_STORE} and cannot import a type=local cache; use a standalone buildkitd for local caches`);
    case "multi-platform-image":
      return new UnsupportedByDaemonError(
        feature,
        `${CLASSIC_STORE} and cannot export a multi-platform image; build one platform, or use a standalone buildkitd`,
      );
    case "engine-push":
      return new UnsupportedByDaemonError(
        feature,
        "this daemon is a Docker Engine without a containerd image store: pushing needs its API socket, so connect with a docker-engine:// address",
      );
  }
}
