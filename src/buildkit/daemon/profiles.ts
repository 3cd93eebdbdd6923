import type { WorkerRecord__Output } from "../generated/moby/buildkit/v1/types/WorkerRecord.js";
import { buildkitdProfile } from "./buildkitd-profile.js";
import type { DaemonKind, DaemonProfile } from "./daemon-profile.js";
import { engineClassicProfile } from "./engine-classic-profile.js";
import { engineContainerdProfile } from "./engine-containerd-profile.js";

const PROFILES: Readonly<Record<DaemonKind, DaemonProfile>> = {
  buildkitd: buildkitdProfile,
  "engine-classic": engineClassicProfile,
  "engine-containerd": engineContainerdProfile,
};

/** The profile of a kind of daemon. */
export function daemonProfile(kind: DaemonKind): DaemonProfile {
  return PROFILES[kind];
}

/** Docker Engine names its single embedded worker `moby` (docs/buildkit-wire.md#workers-and-info). */
export const ENGINE_WORKER_ID = "moby";

/** The profile of an Engine asked through its API socket, which says which image store it runs. */
export function engineProfile(containerdImageStore: boolean): DaemonProfile {
  return daemonProfile(containerdImageStore ? "engine-containerd" : "engine-classic");
}

/**
 * The profile of a daemon known only by its worker records (a `unix://` or `tcp://` address). An Engine reached
 * that way cannot be asked for its image store, so it is taken for the classic one, the store that can do less.
 */
export function profileFromWorkers(records: readonly WorkerRecord__Output[]): DaemonProfile {
  return daemonProfile(records.some((r) => r.ID === ENGINE_WORKER_ID) ? "engine-classic" : "buildkitd");
}
