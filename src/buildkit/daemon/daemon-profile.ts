import type { UnsupportedByDaemonError } from "../errors.js";

/**
 * The kinds of daemon the client builds on. They speak the same Control API but differ in how an image is written
 * and pushed and in which caches they export: docs/buildkit-wire.md#engine-exporter.
 */
export type DaemonKind = "buildkitd" | "engine-classic" | "engine-containerd";

/** Something a daemon may be unable to do: the `feature` of the UnsupportedByDaemonError that refuses it. */
export type DaemonFeature = "cache-export" | "cache-import" | "multi-platform-image" | "engine-push";

/**
 * Everything that differs between the kinds of daemon, in one object per kind (see `daemonProfile`). It is chosen
 * once, while connecting (`identifyDaemon`); code that needs to know how the daemon behaves asks its profile, never
 * its kind. The transport is not the profile's: it follows from the address, before any daemon has answered.
 */
export interface DaemonProfile {
  readonly kind: DaemonKind;
  /** What health reports and build logs call it. */
  readonly daemon: "buildkitd" | "docker-engine";
  /** The exporter that writes an image: buildkitd's `image`, or the Engine's `moby`, which writes into the Engine's store. */
  readonly imageExporter: "image" | "moby";
  /**
   * How a pushed image reaches its registry: `exporter` asks the image exporter to push (`push=true`) during the
   * solve; `engine-api` exports it under staging names and pushes it through the Engine's HTTP API afterwards.
   */
  readonly push: "exporter" | "engine-api";
  /**
   * A cache entry naming a loopback registry needs `registry.insecure` to be reached over plain HTTP (the Engine
   * treats 127.0.0.0/8 as insecure by itself).
   */
  readonly loopbackRegistryNeedsInsecureFlag: boolean;
  /** Why its cache exports are limited, as a user reads it; undefined when it writes every type its BuildKit knows. */
  readonly cacheExportLimit?: string;
  /**
   * The refusal of something this daemon cannot do, with a sentence saying what to use instead; undefined when it
   * can. `type` is the cache type for `cache-export` and `cache-import`.
   */
  refusal(feature: DaemonFeature, type?: string): UnsupportedByDaemonError | undefined;
  /** True when it can export a cache of `type` (types its BuildKit does not know are still its own to refuse). */
  exportsCache(type: string): boolean;
}
