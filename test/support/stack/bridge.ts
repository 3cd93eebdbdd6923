import { randomBytes, randomInt } from "node:crypto";
import { runCommand } from "./run-command.js";

/** A Linux bridge of our own for one Docker Engine, on a /24 nothing else on the machine uses. */
export interface Bridge {
  /** ≤ 15 characters (the kernel's interface name limit). */
  name: string;
  /** The bridge's own address, e.g. `10.97.14.1`. */
  gateway: string;
  /** e.g. `10.97.14.0/24` */
  subnet: string;
}

interface Ipv4Network {
  base: number;
  bits: number;
}

export async function createBridge(): Promise<Bridge> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const used = await usedIpv4Networks();
    const candidate = pickFreeSubnet(used);
    const name = `bkb${randomBytes(5).toString("hex")}`;
    const subnet = `${formatIpv4(candidate)}/24`;
    const gateway = formatIpv4(candidate + 1);
    await runCommand("ip", ["link", "add", name, "type", "bridge"]);
    try {
      await runCommand("ip", ["addr", "add", `${gateway}/24`, "dev", name]);
      await runCommand("ip", ["link", "set", name, "up"]);
    } catch (err) {
      await deleteBridge(name);
      throw err;
    }
    // Another engine may have picked the same subnet at the same moment: keep ours only if it is alone.
    if ((await interfacesOn(candidate)).length === 1) return { name, gateway, subnet };
    await deleteBridge(name);
  }
  throw new Error("could not find a free /24 for a Docker bridge");
}

/** Deletes the bridge; a bridge that is already gone is fine. */
export async function deleteBridge(name: string): Promise<void> {
  if (!(await bridgeExists(name))) return;
  await runCommand("ip", ["link", "delete", name, "type", "bridge"]);
}

export async function bridgeExists(name: string): Promise<boolean> {
  const links = await runCommand("ip", ["-o", "link", "show"]);
  return links.split("\n").some((line) => line.split(":")[1]?.trim().split("@")[0] === name);
}

/** Every IPv4 network named by an interface address or a route. */
async function usedIpv4Networks(): Promise<Ipv4Network[]> {
  const text = (await runCommand("ip", ["-4", "-o", "addr", "show"])) + (await runCommand("ip", ["-4", "route", "show", "table", "all"]));
  const networks: Ipv4Network[] = [];
  for (const match of text.matchAll(/\b(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?\b/g)) {
    const address = parseIpv4(match[1] ?? "");
    if (address === undefined) continue;
    const bits = match[2] === undefined ? 32 : Number(match[2]);
    // 0.0.0.0/0-like catch-alls ("default") never name a network in use.
    if (bits === 0) continue;
    networks.push({ base: address, bits });
  }
  return networks;
}

async function interfacesOn(subnetBase: number): Promise<string[]> {
  const lines = (await runCommand("ip", ["-4", "-o", "addr", "show"])).split("\n");
  const names = new Set<string>();
  for (const line of lines) {
    const match = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (!match?.[1] || !match[2] || !match[3]) continue;
    const address = parseIpv4(match[2]);
    if (address !== undefined && overlaps({ base: address, bits: Number(match[3]) }, { base: subnetBase, bits: 24 })) names.add(match[1]);
  }
  return [...names];
}

function pickFreeSubnet(used: readonly Ipv4Network[]): number {
  for (let attempt = 0; attempt < 500; attempt++) {
    // 10.64.0.0 – 10.254.255.0: away from the low 10.x ranges that VPNs and clouds like to use.
    const base = ((10 << 24) | (randomInt(64, 255) << 16) | (randomInt(0, 256) << 8)) >>> 0;
    const candidate = { base, bits: 24 };
    if (!used.some((network) => overlaps(network, candidate))) return base;
  }
  throw new Error("no free /24 in 10.64.0.0/10 – 10.254.0.0/16");
}

function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split(".").map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return undefined;
  return parts.reduce((acc, part) => ((acc << 8) | part) >>> 0, 0);
}

function formatIpv4(address: number): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join(".");
}
