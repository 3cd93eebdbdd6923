import * as grpc from "@grpc/grpc-js";
import type { ControlClient } from "./generated/moby/buildkit/v1/Control.js";
import type { InfoResponse__Output } from "./generated/moby/buildkit/v1/InfoResponse.js";
import type { WorkerRecord__Output } from "./generated/moby/buildkit/v1/types/WorkerRecord.js";
import type { Platform__Output } from "./generated/pb/Platform.js";

export interface WorkerInfo {
  id: string;
  /** `os/arch[/variant]`. */
  platforms: string[];
  labels: Record<string, string>;
}

export interface DaemonHealth {
  address: string;
  /** What the daemon's profile calls it. */
  daemon: "buildkitd" | "docker-engine";
  workers: WorkerInfo[];
  version?: { buildkit?: string; engine?: string; revision?: string };
  /** The daemon answers `Control.Info` (BuildKit v0.11+). */
  infoSupported: boolean;
}

export function formatPlatform(p: Platform__Output): string {
  return [p.OS, p.Architecture, p.Variant].filter((part) => part).join("/");
}

export function workerInfo(record: WorkerRecord__Output): WorkerInfo {
  return { id: record.ID, platforms: record.platforms.map(formatPlatform), labels: { ...record.Labels } };
}

export function listWorkers(control: ControlClient, deadline: grpc.Deadline): Promise<WorkerRecord__Output[]> {
  return new Promise((resolve, reject) => {
    control.ListWorkers({}, { deadline }, (err, response) => (err ? reject(err) : resolve(response?.record ?? [])));
  });
}

/** `Control.Info`; undefined when the daemon predates it (UNIMPLEMENTED). */
export function daemonInfo(control: ControlClient, deadline: grpc.Deadline): Promise<InfoResponse__Output | undefined> {
  return new Promise((resolve, reject) => {
    control.Info({}, { deadline }, (err, response) => {
      if (err?.code === grpc.status.UNIMPLEMENTED) resolve(undefined);
      else if (err) reject(err);
      else resolve(response);
    });
  });
}
