import type { EngineApi } from "../engine/engine-api.js";
import { parseMinorVersion } from "./daemon-capabilities.js";

/** What the client needs to know about a Docker Engine it builds on. */
export interface EngineFacts {
  /** The Engine's release, e.g. `20.10.24+dfsg1`. */
  version: string;
  /** True on the containerd image store, where the `moby` exporter can push by itself (docs/buildkit-wire.md#engine-exporter). */
  containerdImageStore: boolean;
}

/** The first Engine release with the containerd image store (an opt-in since 24.0). */
const CONTAINERD_STORE_SINCE = 24;

/**
 * Asks the Engine the least that answers `EngineFacts`: `/_ping` (its version is in the `Server` header), `/version`
 * only when that header is missing, and `/info` only on an Engine new enough to have a containerd image store.
 * Both of the latter ask containerd and take several milliseconds on a busy Engine; `/_ping` takes under one.
 */
export async function askEngineFacts(engine: EngineApi): Promise<EngineFacts> {
  const ping = await engine.ping();
  const version = ping.engineVersion ?? (await engine.version()).Version;
  const containerdImageStore = engineMayBeAtLeast(version, CONTAINERD_STORE_SINCE) ? await engine.usesContainerdSnapshotter() : false;
  return { version, containerdImageStore };
}

/** False only when `version` names an Engine release older than `major`: an unreadable version could be anything. */
export function engineMayBeAtLeast(version: string | undefined, major: number): boolean {
  const parsed = parseMinorVersion(version);
  return parsed === undefined || parsed[0] >= major;
}
