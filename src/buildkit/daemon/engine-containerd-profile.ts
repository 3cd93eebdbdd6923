import type { DaemonProfile } from "./daemon-profile.js";

/**
 * A Docker Engine on the containerd image store: its `moby` exporter wraps BuildKit's image exporter, so it pushes
 * by itself and exports the caches buildkitd does (docs/buildkit-wire.md#engine-exporter).
 */
export const engineContainerdProfile: DaemonProfile = {
  kind: "engine-containerd",
  daemon: "docker-engine",
  imageExporter: "moby",
  push: "exporter",
  loopbackRegistryNeedsInsecureFlag: false,
  refusal: () => undefined,
  exportsCache: () => true,
};
