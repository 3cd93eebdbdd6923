import { readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 a second on every Linux build that matters). */
const TICKS_PER_SECOND = 100;

/** CPU seconds a process used so far: its own, and its children's it has waited for (git, runc, CGI scripts). */
export interface ProcCpu {
  self: number;
  children: number;
}

/** Reads /proc/<pid>/stat; zeros when the process is gone. */
export function procCpu(pid: number): ProcCpu {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return { self: 0, children: 0 };
  }
  // Fields after the command name (which may hold spaces), from field 3 (state) on: utime is 14, cstime 17.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (field: number) => Number(fields[field - 3] ?? 0);
  return { self: (at(14) + at(15)) / TICKS_PER_SECOND, children: (at(16) + at(17)) / TICKS_PER_SECOND };
}

/** CPU seconds (own + waited-for children) each of `pids` used between two readings. */
export function cpuBetween(before: readonly ProcCpu[], after: readonly ProcCpu[]): number {
  let sum = 0;
  for (let i = 0; i < after.length; i++) {
    const a = after[i] as ProcCpu;
    const b = before[i] ?? { self: 0, children: 0 };
    sum += a.self - b.self + (a.children - b.children);
  }
  return sum;
}
