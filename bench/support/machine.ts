import { execFileSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";
import { BuildKitClient } from "@buildkit-bot/buildkit";
import { docker } from "./docker-cli.js";

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGb: string;
  kernel: string;
  node: string;
  engine: string;
  buildkit: string;
  dockerCli: string;
  /** The standalone buildkitd's version as it reports it; undefined when the stack has none. */
  buildkitd?: string;
}

export async function machineInfo(socket: string, buildkitAddr: string, buildkitdAddr?: string): Promise<MachineInfo> {
  const nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  let engine = "?";
  let buildkit = "?";
  const client = await BuildKitClient.connect(buildkitAddr);
  try {
    const health = await client.health();
    engine = health.version?.engine ?? "?";
    const inferred = (await client.capabilities()).buildkitVersion;
    buildkit = health.version?.buildkit ?? (inferred ? `${inferred}, inferred from the Engine version: the Engine does not report it` : "?");
  } finally {
    await client.close();
  }
  let buildkitd: string | undefined;
  if (buildkitdAddr) {
    const standalone = await BuildKitClient.connect(buildkitdAddr);
    try {
      buildkitd = (await standalone.health()).version?.buildkit ?? "?";
    } finally {
      await standalone.close();
    }
  }
  const dockerCli = (await docker(socket, ["version", "--format", "{{.Client.Version}}"]).catch(() => "?")).trim();
  return {
    nproc,
    cpuModel: cpus()[0]?.model ?? "?",
    memoryGb: (totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    node: process.version,
    engine,
    buildkit,
    dockerCli,
    ...(buildkitd !== undefined ? { buildkitd } : {}),
  };
}

export function describeMachine(m: MachineInfo): string {
  const standalone = m.buildkitd !== undefined ? `; standalone buildkitd ${m.buildkitd} (OCI worker, runc, shipped deploy/buildkitd.toml)` : "";
  return `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGb} GiB RAM, Linux ${m.kernel}, Node ${m.node}; Docker Engine ${m.engine} (embedded BuildKit ${m.buildkit}), Docker CLI ${m.dockerCli} (/usr/bin/docker)${standalone}`;
}
