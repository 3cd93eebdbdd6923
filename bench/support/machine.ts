import { execFileSync } from "node:child_process";
import { cpus, release, totalmem } from "node:os";
import { BuildKitClient } from "../../src/buildkit/client.js";
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
}

export async function machineInfo(socket: string, buildkitAddr: string): Promise<MachineInfo> {
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
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGb} GiB RAM, Linux ${m.kernel}, Node ${m.node}; Docker Engine ${m.engine} (embedded BuildKit ${m.buildkit}), Docker CLI ${m.dockerCli} (/usr/bin/docker)`;
}
