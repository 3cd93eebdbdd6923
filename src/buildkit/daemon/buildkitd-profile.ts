import type { DaemonProfile } from "./daemon-profile.js";

/** A standalone buildkitd: its `image` exporter pushes by itself, and it knows every cache type. */
export const buildkitdProfile: DaemonProfile = {
  kind: "buildkitd",
  daemon: "buildkitd",
  imageExporter: "image",
  push: "exporter",
  loopbackRegistryNeedsInsecureFlag: true,
  refusal: () => undefined,
  exportsCache: () => true,
};
