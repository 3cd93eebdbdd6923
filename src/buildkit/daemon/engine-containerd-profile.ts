import { buildkitdProfile } from "./buildkitd-profile.js";
import type { DaemonProfile } from "./daemon-profile.js";

/**
 * A Docker Engine on the containerd image store: its `moby` exporter wraps BuildKit's image exporter, so it pushes
 * by itself and exports the caches buildkitd does (docs/buildkit-wire.md#engine-exporter). It differs from
 * buildkitd in the exporter's name and in reaching loopback registries over plain HTTP by itself.
 */
export const engineContainerdProfile: DaemonProfile = {
  ...buildkitdProfile,
  kind: "engine-containerd",
  daemon: "docker-engine",
  imageExporter: "moby",
  loopbackRegistryNeedsInsecureFlag: false,
};
