import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import type { InfoResponse__Output } from "../generated/moby/buildkit/v1/InfoResponse.js";
import type { WorkerRecord__Output } from "../generated/moby/buildkit/v1/types/WorkerRecord.js";
import type { EngineApi } from "../engine/engine-api.js";
import { ConnectionError } from "../errors.js";
import { channelReady } from "../transport/channel-ready.js";
import type { Transport } from "../transport/open-transport.js";
import { engineBuildkitVersion } from "./daemon-capabilities.js";
import type { DaemonProfile } from "./daemon-profile.js";
import { askEngineFacts, engineMayBeAtLeast } from "./engine-facts.js";
import type { EngineFacts } from "./engine-facts.js";
import { engineProfile, profileFromWorkers } from "./profiles.js";

/** A Docker Engine's HTTP API, when the client reached the Engine through its API socket. */
export interface EngineConnection {
  api: EngineApi;
  /** Its release and image store, asked while connecting. */
  facts: EngineFacts;
}

/** Which daemon answers, decided once while connecting. */
export interface DaemonIdentity {
  profile: DaemonProfile;
  engine?: EngineConnection;
}

/**
 * Decides which daemon answers, and proves it is there. Through an Engine's API socket: its `/_ping` (and `/info`
 * on an Engine new enough to have a containerd store) while the `/grpc` upgrade completes, which is much quicker
 * than a `ListWorkers` through the Engine (5–8 ms on 20.10, even on an open connection). Anywhere else: the
 * `ListWorkers` answer, whose records name the Engine's worker when an Engine answers.
 */
export async function identifyDaemon(
  transport: Transport,
  control: ControlClient,
  workers: Promise<WorkerRecord__Output[]>,
  deadline: number,
): Promise<DaemonIdentity> {
  if (transport.engineSocket === undefined) return { profile: profileFromWorkers(await workers) };
  // Loaded for an Engine only: a buildkitd client never needs the Engine's HTTP API.
  const { EngineApi } = await import("../engine/engine-api.js");
  const api = new EngineApi(transport.engineSocket);
  const asked = askEngineFacts(api).catch((err: unknown) => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConnectionError(transport.display, `cannot connect to BuildKit at ${transport.display}: ${reason}`, { cause: err });
  });
  const [facts] = await Promise.all([asked, channelReady(control, deadline)]);
  return { profile: engineProfile(facts.containerdImageStore), engine: { api, facts } };
}

/**
 * The daemon's BuildKit version, from the first source that names it: worker records (BuildKit 0.11+), then
 * `Control.Info` (v0.11+), or, for an Engine older than 24, whose records do not carry it, its release.
 */
export async function detectBuildkitVersion(
  identity: DaemonIdentity,
  workers: Promise<WorkerRecord__Output[]>,
  info: () => Promise<InfoResponse__Output | undefined>,
): Promise<string | undefined> {
  const engine = identity.engine?.facts;
  if (engine) {
    const records = engineMayBeAtLeast(engine.version, 24) ? await workers.catch(() => []) : [];
    return versionIn(records) ?? engineBuildkitVersion(engine.version);
  }
  const version = versionIn(await workers);
  if (version) return version;
  return (await info().catch(() => undefined))?.buildkitVersion?.version || undefined;
}

function versionIn(records: readonly WorkerRecord__Output[]): string | undefined {
  return records.find((r) => r.BuildkitVersion?.version)?.BuildkitVersion?.version;
}
