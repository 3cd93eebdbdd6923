import { clipChars, stripAnsi } from "../text/index.js";

/** One Dockerfile step of a finished build, as the cache report lists it. */
export interface CacheStepRow {
  /** The step as BuildKit names it, e.g. `[3/4] COPY src/ /src`. */
  name: string;
  /**
   * `stopped`: the build failed elsewhere while this step was running. A `FROM` is `resolved` (its image was at hand)
   * or `pulled` (the daemon fetched some of it): never a step the cache saved or one that ran again.
   */
  status: "cached" | "ran" | "failed" | "stopped" | "resolved" | "pulled";
  /** How long the step ran (absent for a cached step, or when the daemon gave no times). */
  durationMs?: number;
  /** A cached step: how long it took the last time it ran, when a recorded build of the image knows. */
  savedMs?: number;
}

/** What changed, as far as it can be proven, so that a step the base branch's build had cached ran again. */
export type CacheMissCause =
  /** A `COPY`/`ADD` whose sources hold files that differ between the two commits. */
  | { kind: "files"; files: string[]; more: number; /** GitHub's compare listing was cut (300 files): others may have changed too. */ partial?: boolean }
  /** The instruction itself changed: its Dockerfile line now, and the line it replaced, if any. */
  | { kind: "dockerfile"; path: string; line: number; now: string; before?: string }
  /** Build args (names only: their values are never kept) that differ from the base build's. */
  | { kind: "build-args"; names: string[] }
  /** The `FROM` image resolved to another digest. */
  | { kind: "base-image"; image: string; before: string; now: string }
  /** Nothing above: the base branch's cache for the step is gone (expired, pruned, or on another builder). */
  | { kind: "cache-not-found" };

export interface CacheReport {
  /** The build's Dockerfile steps, in Dockerfile order. */
  steps: CacheStepRow[];
  /** The first step that ran although the base branch's build had it, and why; absent when none did. */
  firstRerun?: {
    step: string;
    /** The build compared with: its ref (`main`) and commit. */
    base: { ref: string; sha: string };
    cause: CacheMissCause;
  };
  /** One line said once, e.g. what this builder cannot report. */
  note?: string;
}

/** Table rows shown at most; the rest are counted. */
const ROWS_SHOWN = 40;
const FILES_SHOWN = 20;

/** The summary's cache section: a headline, why the first step re-ran, and the per-step table. */
export function renderCacheReport(report: CacheReport | undefined): string[] {
  if (!report) return [];
  const lines: string[] = [""];
  const steps = report.steps.filter((s) => !isBaseImage(s));
  const cached = steps.filter((s) => s.status === "cached");
  const saved = cached.reduce((sum, s) => sum + (s.savedMs ?? 0), 0);
  const estimated = cached.filter((s) => s.savedMs !== undefined).length;
  const savedText = saved > 0 ? `, saving about ${seconds(saved)}${estimated < cached.length ? ` (${estimated} of them timed before)` : ""}` : "";
  lines.push(`**Cache:** ${cached.length} of ${steps.length} Dockerfile steps cached${savedText}${baseImagesText(report.steps)}.`);
  if (report.firstRerun) lines.push("", ...renderRerun(report.firstRerun));
  if (report.note) lines.push("", `> ${cell(report.note)}`);
  if (report.steps.length === 0) return lines;
  const shown = rowsToShow(report.steps);
  // The outcome first: on a phone a wide step name pushes the later columns off screen.
  lines.push("", "| Cache | Step | Time |", "|---|---|---|");
  for (const s of shown) {
    const time =
      s.status === "cached" ? (s.savedMs !== undefined ? `saved ~${seconds(s.savedMs)}` : "") : s.durationMs !== undefined ? seconds(s.durationMs) : "";
    lines.push(`| ${s.status === "cached" || isBaseImage(s) ? s.status : `**${s.status}**`} | ${code(clipChars(stepLabel(s.name), 120))} | ${time} |`);
  }
  const left = report.steps.length - shown.length;
  if (left > 0) lines.push("", `…and ${left} more step${left === 1 ? "" : "s"} not shown (the log page lists every step).`);
  return lines;
}

function renderRerun(rerun: NonNullable<CacheReport["firstRerun"]>): string[] {
  const against = `compared with ${code(rerun.base.ref)} at ${code(rerun.base.sha.slice(0, 7))}`;
  const head = `**Why it re-ran:** ${code(clipChars(rerun.step, 200))} is the first step that ran (${against})`;
  const cause = rerun.cause;
  switch (cause.kind) {
    case "files": {
      const list = cause.files.slice(0, FILES_SHOWN).map((f) => `- ${code(clipChars(f, 300))}`);
      const more = cause.more + Math.max(0, cause.files.length - FILES_SHOWN);
      const cut = cause.partial ? ["", "GitHub lists at most 300 changed files between two commits, so others it copies may have changed too."] : [];
      return [`${head}: ${cause.files.length + cause.more === 1 ? "a file" : "files"} it copies changed:`, "", ...list, ...(more > 0 ? [`- …and ${more} more`] : []), ...cut];
    }
    case "dockerfile":
      return [
        `${head}: its Dockerfile line changed, ${code(`${cause.path}:${cause.line}`)}:`,
        "",
        "```diff",
        ...(cause.before !== undefined ? [`- ${clipChars(oneLine(cause.before), 300)}`] : []),
        `+ ${clipChars(oneLine(cause.now), 300)}`,
        "```",
      ];
    case "build-args":
      return [`${head}: build arg${cause.names.length === 1 ? "" : "s"} ${cause.names.slice(0, 20).map((n) => code(clipChars(n, 100))).join(", ")} changed.`];
    case "base-image":
      return [`${head}: the base image ${code(clipChars(cause.image, 200))} moved from ${code(cause.before)} to ${code(cause.now)}.`];
    case "cache-not-found":
      return [`${head}, with the same inputs: the cache for the base branch was not found (expired, pruned, or on another builder).`];
  }
}

/** A `FROM` row: what the daemon did with the base image, not a step of the build's cache. */
const isBaseImage = (s: CacheStepRow): boolean => s.status === "resolved" || s.status === "pulled";

/** `; base image pulled`, `; base images resolved (none pulled)`: what the `FROM` rows say, counted apart from the steps. */
function baseImagesText(rows: readonly CacheStepRow[]): string {
  const bases = rows.filter(isBaseImage);
  if (bases.length === 0) return "";
  const pulled = bases.filter((s) => s.status === "pulled").length;
  const images = bases.length === 1 ? "base image" : "base images";
  if (pulled === 0) return `; ${images} resolved (${bases.length === 1 ? "not" : "none"} pulled)`;
  return pulled === bases.length ? `; ${images} pulled` : `; ${pulled} of ${bases.length} base images pulled`;
}

/** Every step that ran, and as many cached steps as fit, the ones that saved most first; in Dockerfile order. */
function rowsToShow(steps: readonly CacheStepRow[]): CacheStepRow[] {
  if (steps.length <= ROWS_SHOWN) return [...steps];
  const ran = steps.filter((s) => s.status !== "cached").slice(0, ROWS_SHOWN);
  const room = ROWS_SHOWN - ran.length;
  const keep = new Set<CacheStepRow>(ran);
  const byValue = steps.filter((s) => s.status === "cached").sort((a, b) => (b.savedMs ?? -1) - (a.savedMs ?? -1));
  for (const s of byValue.slice(0, room)) keep.add(s);
  return steps.filter((s) => keep.has(s));
}

/** `0.4s`, `12s`, `2m 5s`. */
function seconds(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

const oneLine = (text: string): string => stripAnsi(text).replace(/\s+/g, " ").trim();
/** A step's name as the table shows it: a `FROM`'s pinned digest left out (the base-image cause names digests). */
const stepLabel = (name: string): string => name.replace(/@sha256:[0-9a-f]{64}/, "");
const code = (s: string) => `\`${oneLine(s).replace(/`/g, "'").replace(/\|/g, "\\|")}\``;
const cell = (text: string): string => clipChars(oneLine(text).replace(/\|/g, "\\|"), 300);
