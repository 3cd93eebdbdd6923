import { readFile } from "node:fs/promises";
import { runCommand } from "./run-command.js";

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const points = mountinfo
    .split("\n")
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((point) => point === dir || point.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything left under `dir` (overlay layers, netns files, shm) so the directory can be removed. */
export async function unmountAllUnder(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    await runCommand("umount", [point]).catch(() => runCommand("umount", ["--lazy", point]));
  }
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
