import { clipChars, stripAnsi } from "../text/index.js";

/** The pushed image's compressed size and layers against the base branch's image (issue 19 point 2). */
export interface SizeDiff {
  /** The base branch, e.g. `main`. */
  base: string;
  /** Per platform, when both images were read. */
  platforms?: readonly PlatformSizeDiff[];
  /** Platforms the base image has and this one does not. */
  removedPlatforms?: readonly string[];
  /** Why nothing is compared (no base image yet, a registry error); said in one line. */
  note?: string;
  /** The pushed image's size, when it was read but there is nothing to compare it with. */
  size?: number;
}

export interface PlatformSizeDiff {
  platform: string;
  /** Compressed: the layers' sizes added up. */
  size: number;
  /** Undefined when the base image has no such platform. */
  baseSize?: number;
  /** This image's layers in order (added or unchanged), then the base's layers it no longer has. */
  layers: readonly LayerChange[];
}

export interface LayerChange {
  change: "added" | "removed" | "unchanged";
  size: number;
  /** The image history's `created_by`, e.g. `COPY app /app # buildkit`. */
  instruction?: string;
}

/** Rows per platform's table; the rest are counted in one line. */
const ROWS_PER_PLATFORM = 15;
/** Platforms given a table; the others are in the headline only. */
const PLATFORM_TABLES = 4;

const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

/** `12.3 MB`: decimal units, as `docker images` and registries show them. */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (Math.abs(value) >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatChange(size: number, base: number): string {
  const delta = size - base;
  if (delta === 0) return "no change";
  const sign = delta > 0 ? "+" : "−";
  const pct = base > 0 ? `, ${sign}${((Math.abs(delta) / base) * 100).toFixed(1)}%` : "";
  return `${sign}${formatBytes(Math.abs(delta))}${pct}`;
}

/** `COPY app /app`, from `COPY app /app # buildkit`, `/bin/sh -c #(nop)  CMD …`, `RUN |1 V=2 /bin/sh -c make # buildkit`. */
export function instructionText(createdBy: string | undefined): string {
  if (!createdBy) return "";
  let text = stripAnsi(createdBy).replace(/\s+/g, " ").trim();
  text = text.replace(/ # buildkit$/, "");
  text = text.replace(/^\/bin\/sh -c #\(nop\) ?/, "");
  // BuildKit writes `RUN /bin/sh -c make` (with `|N A=1 …` first when build args are in scope).
  text = text.replace(/^RUN (?:\|\d+(?: \S+=\S*)* )?\/bin\/sh -c /, "RUN ");
  text = text.replace(/^\|\d+(?: \S+=\S*)* \/bin\/sh -c /, "RUN ");
  text = text.replace(/^\/bin\/sh -c /, "RUN ");
  return text.trim();
}

const CHANGE_WORD: Record<LayerChange["change"], string> = { added: "added", removed: "removed", unchanged: "same" };
const CHANGE_ORDER: Record<LayerChange["change"], number> = { added: 0, removed: 1, unchanged: 2 };

/**
 * The summary's "Image size" section: a headline (`**Image size:** 12.3 MB (+1.2 MB, +10.8% vs `main`)`), then per
 * platform a table of its layers, added and removed first, each with its size and the instruction that made it;
 * long lists are cut and the rest counted. Bounded: at most a few kilobytes whatever the image.
 */
export function renderSizeDiff(diff: SizeDiff | undefined): string[] {
  if (!diff) return [];
  const base = code(diff.base);
  if (!diff.platforms || diff.platforms.length === 0) {
    const size = diff.size !== undefined ? `${formatBytes(diff.size)}; ` : "";
    return ["", `**Image size:** ${size}${clipChars(stripAnsi(diff.note ?? `no ${base} image to compare with`), 300)}`];
  }
  const lines = [""];
  const versus = (p: PlatformSizeDiff): string => (p.baseSize === undefined ? `new platform, not in ${base}` : `${formatChange(p.size, p.baseSize)} vs ${base}`);
  if (diff.platforms.length === 1) {
    const only = diff.platforms[0]!;
    lines.push(`**Image size:** ${formatBytes(only.size)} (${versus(only)})`);
  } else {
    lines.push(`**Image size** vs ${base}: ${diff.platforms.map((p) => `${code(p.platform)} ${formatBytes(p.size)} (${p.baseSize === undefined ? "new" : formatChange(p.size, p.baseSize)})`).join(", ")}`);
  }
  if (diff.removedPlatforms?.length) lines.push("", `Not built any more: ${diff.removedPlatforms.map(code).join(", ")}`);
  for (const [i, p] of diff.platforms.entries()) {
    if (i >= PLATFORM_TABLES) {
      lines.push("", `…layers of ${diff.platforms.length - PLATFORM_TABLES} more platforms not listed.`);
      break;
    }
    lines.push("", ...(diff.platforms.length > 1 ? [`${code(p.platform)}: ${layerCounts(p.layers)}`, ""] : [layerCounts(p.layers), ""]));
    lines.push("| Layer | Size | Made by |", "|---|--:|---|");
    const rows = [...p.layers].map((l, order) => ({ l, order })).sort((a, b) => CHANGE_ORDER[a.l.change] - CHANGE_ORDER[b.l.change] || a.order - b.order);
    for (const { l } of rows.slice(0, ROWS_PER_PLATFORM)) {
      const made = instructionText(l.instruction);
      lines.push(`| ${CHANGE_WORD[l.change]} | ${formatBytes(l.size)} | ${made ? code(clipChars(made, 100)).replace(/\|/g, "\\|") : ""} |`);
    }
    const rest = rows.slice(ROWS_PER_PLATFORM);
    if (rest.length > 0) {
      lines.push("", `…and ${rest.length} more layer${rest.length === 1 ? "" : "s"} (${formatBytes(rest.reduce((s, r) => s + r.l.size, 0))}) not listed.`);
    }
  }
  return lines;
}

function layerCounts(layers: readonly LayerChange[]): string {
  const count = (change: LayerChange["change"]): string => {
    const of = layers.filter((l) => l.change === change);
    return `${of.length} ${change}${of.length > 0 && change !== "unchanged" ? ` (${formatBytes(of.reduce((s, l) => s + l.size, 0))})` : ""}`;
  };
  return `Layers: ${count("added")}, ${count("removed")}, ${count("unchanged")}.`;
}
