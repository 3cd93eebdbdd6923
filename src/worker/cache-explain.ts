import { selectFiles } from "../config/index.js";
import type { CacheMissCause } from "../github/index.js";
import type { BuildRecord } from "./cache-history.js";
import type { TimelineStep } from "./step-timeline.js";

/** What the explanation may read, only when it needs it (each is one or two GitHub calls). */
export interface ExplainReads {
  /** Files that may differ between the base build's commit and this one; undefined when GitHub cannot say. */
  changedFiles(): Promise<{ files: string[]; complete: boolean } | undefined>;
  /** The Dockerfile of the base build's commit and of this one. */
  dockerfiles(): Promise<{ before?: string; now?: string }>;
}

export interface ExplainInput {
  /** This build's steps (StepTimeline.steps()). */
  steps: readonly TimelineStep[];
  /** The base branch's last recorded build of the image. */
  base: BuildRecord;
  /** This build's build args as hashes (see argHashes). */
  args: Record<string, string>;
  /** This build's Dockerfile path from the repository root, and its context directory. */
  dockerfile: string;
  context: string;
  reads: ExplainReads;
}

/**
 * The first step this build ran (by start time: every step before it came from the cache), and the input that
 * changed since the base build, named as precisely as can be proven: the `FROM` image's digest, the files a
 * `COPY`/`ADD` copies, the instruction's Dockerfile line, or build args; otherwise the base branch's cache was not
 * found. Undefined when every step came from the cache.
 */
export async function explainFirstRerun(input: ExplainInput): Promise<{ step: TimelineStep; cause: CacheMissCause } | undefined> {
  // A `FROM` is reported done even when every step on it comes from the cache: it is never the step that re-ran
  // (a new digest of it makes the next step re-run, and baseImageChange names it).
  const ran = input.steps
    .filter((s) => (s.status === "ran" || s.status === "failed") && !/^FROM\s/i.test(s.text))
    .sort((a, b) => a.startedAt - b.startedAt);
  const step = ran[0];
  if (!step) return undefined;
  const cause = await causeOf(step, input);
  return { step, cause };
}

async function causeOf(step: TimelineStep, input: ExplainInput): Promise<CacheMissCause> {
  const image = baseImageChange(step, input);
  if (image) return image;
  const argNames = changedArgs(input.base.args, input.args);
  if (input.base.steps.some((s) => s.k === step.key)) {
    const files = await copiedFilesChanged(step.text, input);
    if (files) return files;
  } else {
    const line = await changedLine(step.text, input);
    if (line) return line;
  }
  return argNames.length > 0 ? { kind: "build-args", names: argNames } : { kind: "cache-not-found" };
}

/** The `FROM` of the step's stage resolved to another digest than in the base build: the whole stage re-ran. */
function baseImageChange(step: TimelineStep, input: ExplainInput): CacheMissCause | undefined {
  const stage = stageOf(step.key);
  const now = input.steps.map((s) => (stageOf(s.key) === stage ? fromImage(s.text) : undefined)).find((f) => f !== undefined);
  if (!now) return undefined;
  for (const s of input.base.steps) {
    const before = stageOf(s.k) === stage ? fromImage(textOf(s.k)) : undefined;
    if (before && before.image === now.image && before.digest !== now.digest) {
      return { kind: "base-image", image: now.image, before: shortDigest(before.digest), now: shortDigest(now.digest) };
    }
  }
  return undefined;
}

/** Names of build args added, removed or given another value since the base build. */
function changedArgs(before: Record<string, string>, now: Record<string, string>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...names].filter((n) => before[n] !== now[n]).sort();
}

/** A `COPY`/`ADD` from the build context: the changed files its sources take in, if any. */
async function copiedFilesChanged(text: string, input: ExplainInput): Promise<CacheMissCause | undefined> {
  const sources = copySources(text);
  if (!sources || sources.length === 0) return undefined;
  const changed = await input.reads.changedFiles();
  if (!changed) return undefined;
  const prefix = input.context === "" ? "" : `${input.context.replace(/\/+$/, "")}/`;
  const inContext = changed.files.filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length));
  const patterns = sources.flatMap((s) => (s === "" ? ["**"] : [s, `${s}/**`]));
  const hit = selectFiles(patterns, inContext).map((f) => prefix + f);
  return hit.length > 0 ? { kind: "files", files: hit, more: 0, ...(changed.complete ? {} : { partial: true }) } : undefined;
}

/**
 * The sources of `COPY a b /dst`, `COPY [a, b, /dst]` (BuildKit shows the JSON form without quotes) or
 * `ADD --chown=1 a /dst`, relative to the context ("" = all of it). Undefined for a copy from another stage or
 * image (`--from`), a heredoc, or another instruction.
 */
export function copySources(text: string): string[] | undefined {
  const m = /^(COPY|ADD)\s+([\s\S]*)$/i.exec(text.trim());
  if (!m) return undefined;
  let rest = (m[2] ?? "").trim();
  const flags: string[] = [];
  while (rest.startsWith("--")) {
    const flag = /^(\S+)\s*/.exec(rest);
    flags.push(flag?.[1] ?? "");
    rest = rest.slice(flag?.[0].length ?? rest.length);
  }
  if (flags.some((f) => f.startsWith("--from")) || rest.includes("<<")) return undefined;
  const words = rest.startsWith("[") && rest.endsWith("]") ? rest.slice(1, -1).split(",").map((w) => w.trim().replace(/^"|"$/g, "")) : rest.split(/\s+/);
  const sources = words.slice(0, -1).filter((w) => w !== "" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(w));
  return sources.map((s) => s.replace(/^(\.\/)+/, "").replace(/^\/+/, "").replace(/\/+$/, "")).map((s) => (s === "." ? "" : s));
}

interface Instruction {
  line: number;
  text: string;
}

/** The instruction's Dockerfile line when the diff of the two Dockerfiles shows it changed. */
async function changedLine(stepText: string, input: ExplainInput): Promise<CacheMissCause | undefined> {
  const { before, now } = await input.reads.dockerfiles();
  if (now === undefined || before === undefined) return undefined;
  const a = instructions(before);
  const b = instructions(now);
  const { keptNow, gapBefore } = alignInstructions(a, b);
  const target = norm(stepText);
  const at = b.findIndex((ins) => sameInstruction(ins.text, target));
  if (at < 0 || keptNow[at]) return undefined;
  const ins = b[at] as Instruction;
  const gap = gapBefore[at] ?? [];
  const keyword = ins.text.split(" ", 1)[0];
  const replaced = gap.find((g) => g.text.split(" ", 1)[0] === keyword) ?? gap[0];
  return { kind: "dockerfile", path: input.dockerfile, line: ins.line, now: ins.text, ...(replaced ? { before: replaced.text } : {}) };
}

/** A Dockerfile's instructions, continuation lines joined, comments and blank lines left out, whitespace collapsed. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let start = -1;
  let parts: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (start < 0) {
      if (/^\s*(#|$)/.test(line)) continue;
      start = i;
    } else if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    parts.push(continued ? line.replace(/\\\s*$/, "") : line);
    if (!continued) {
      out.push({ line: start + 1, text: norm(parts.join(" ")) });
      start = -1;
      parts = [];
    }
  }
  if (start >= 0) out.push({ line: start + 1, text: norm(parts.join(" ")) });
  return out;
}

function norm(text: string): string {
  const collapsed = text.replace(/"/g, "").replace(/\s+/g, " ").trim();
  const space = collapsed.indexOf(" ");
  return space < 0 ? collapsed.toUpperCase() : collapsed.slice(0, space).toUpperCase() + collapsed.slice(space);
}

/** The Dockerfile's text against BuildKit's step name, which has build args expanded: a `$VAR` matches anything. */
function sameInstruction(dockerfileText: string, stepText: string): boolean {
  if (dockerfileText === stepText) return true;
  const pieces = dockerfileText.split(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/);
  if (pieces.length === 1) return false;
  const pattern = pieces.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[\\s\\S]*?");
  return new RegExp(`^${pattern}$`).test(stepText);
}

/** Cells of the LCS table at most; bigger Dockerfiles are aligned by plain membership. */
const MAX_CELLS = 4_000_000;

/**
 * A line diff of two instruction lists (longest common subsequence): which of `now`'s instructions are unchanged,
 * and, for each changed one, the instructions of `before` removed in the same place.
 */
function alignInstructions(before: Instruction[], now: Instruction[]): { keptNow: boolean[]; gapBefore: Instruction[][] } {
  const n = before.length;
  const m = now.length;
  const keptNow = new Array<boolean>(m).fill(false);
  const gapBefore: Instruction[][] = now.map(() => []);
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    const texts = new Set(before.map((i) => i.text));
    now.forEach((ins, j) => (keptNow[j] = texts.has(ins.text)));
    return { keptNow, gapBefore };
  }
  const w = m + 1;
  const table = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * w + j] = before[i]?.text === now[j]?.text ? (table[(i + 1) * w + j + 1] ?? 0) + 1 : Math.max(table[(i + 1) * w + j] ?? 0, table[i * w + j + 1] ?? 0);
    }
  }
  let i = 0;
  let j = 0;
  let removed: Instruction[] = [];
  while (i < n || j < m) {
    if (i < n && j < m && before[i]?.text === now[j]?.text) {
      keptNow[j] = true;
      removed = [];
      i++;
      j++;
    } else if (j < m && (i >= n || (table[i * w + j + 1] ?? 0) > (table[(i + 1) * w + j] ?? 0))) {
      gapBefore[j] = removed;
      j++;
    } else {
      removed.push(before[i] as Instruction);
      i++;
    }
  }
  return { keptNow, gapBefore };
}

function fromImage(text: string): { image: string; digest: string } | undefined {
  const m = /^FROM\s+(\S+)@(sha256:[a-f0-9]{64})/i.exec(text);
  return m ? { image: m[1] ?? "", digest: m[2] ?? "" } : undefined;
}

const shortDigest = (digest: string): string => digest.slice(0, "sha256:".length + 12);
/** Platform and stage of a step key. */
const stageOf = (key: string): string => key.split("\u0000", 2).join("\u0000");
const textOf = (key: string): string => key.split("\u0000").slice(2).join("\u0000");
