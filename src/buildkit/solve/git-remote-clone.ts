import type * as grpc from "@grpc/grpc-js";
import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import type { UsageRecord__Output } from "../generated/moby/buildkit/v1/UsageRecord.js";
import { gitRemoteHost } from "./git-context.js";

/**
 * How the daemon names the one clone it keeps of a git remote, into which it fetches every later commit of that
 * remote (BuildKit 0.8 through 0.24 alike; docs/buildkit-wire.md#git-remote-clone).
 */
export function gitRemoteCloneDescription(remote: string): string {
  return `shared git repo for ${remote}`;
}

/**
 * Deletes the daemon's kept clone(s) of `remote` that no build is using (`DiskUsage`, then `Prune` by id: BuildKit
 * 0.8 cannot prune by description). Resolves the ids deleted, empty when there was none.
 */
export async function forgetGitRemoteClone(control: ControlClient, remote: string, deadline: () => grpc.Deadline): Promise<string[]> {
  gitRemoteHost(remote);
  const description = gitRemoteCloneDescription(remote);
  const records = await diskUsage(control, deadline());
  const ids = records.filter((r) => r.Description === description && !r.InUse).map((r) => r.ID);
  if (ids.length === 0) return [];
  return (await prune(control, ids.map((id) => `id==${id}`), deadline())).map((r) => r.ID);
}

function diskUsage(control: ControlClient, deadline: grpc.Deadline): Promise<UsageRecord__Output[]> {
  return new Promise((resolve, reject) => {
    control.DiskUsage({ filter: [] }, { deadline }, (err, response) => (err ? reject(err) : resolve(response?.record ?? [])));
  });
}

/** `Prune` streams each record as it deletes it; several filters select any record one of them matches. */
function prune(control: ControlClient, filter: string[], deadline: grpc.Deadline): Promise<UsageRecord__Output[]> {
  return new Promise((resolve, reject) => {
    const deleted: UsageRecord__Output[] = [];
    const call = control.Prune({ filter }, { deadline });
    call.on("data", (record: UsageRecord__Output) => deleted.push(record));
    call.on("error", reject);
    call.on("end", () => resolve(deleted));
  });
}
