import { clipChars, headUtf8, stripAnsi, tailUtf8 } from "../text/index.js";
import { renderCacheReport } from "./cache-report-output.js";
import type { CacheReport } from "./cache-report-output.js";
import { renderProvenance } from "./provenance-output.js";
import type { ProvenanceReport } from "./provenance-output.js";
import { renderSizeDiff } from "./size-diff-output.js";
import type { SizeDiff } from "./size-diff-output.js";

/** GitHub's check-run output fields take 65,535 characters; we promise 65,535 bytes, which is stricter. */
export const MAX_OUTPUT_BYTES = 65_535;

/** What a check run's `output` carries (annotations are batched by BuildCheckRun, not here). */
export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
}

export interface BuildProgress {
  stepsDone: number;
  stepsTotal: number;
  cachedSteps: number;
  /** Name of the step running now, e.g. `[2/5] RUN make`. */
  currentStep?: string;
}

/** What a succeeded build's check run says (the library's `BuildResult` is the solve's own answer). */
export interface BuildSuccess {
  /** Full references pushed or tagged. */
  tags: string[];
  pushed: boolean;
  digest?: string;
  /** From the first attempt's start to the end of the last one. */
  durationMs: number;
  /** The build's attempts, when it took more than one (see BuildAttempts). */
  attempts?: BuildAttempts;
  stepsDone: number;
  stepsTotal: number;
  cachedSteps: number;
  platforms?: string[];
  /** Which builder built each platform, when the image was split over several builders. */
  builtOn?: Array<{ platform: string; builder: string }>;
  /** Planned tags not moved, with why (the branch they follow had moved past the commit when the build started). */
  leftOut?: { tags: string[]; reason: string };
  /** What BuildKit's Dockerfile build checks found (each also an annotation). */
  findings?: readonly DockerfileFinding[];
  /** Said once: the config's `checks.fail_on` could not be applied (the builder runs no checks). */
  checksNote?: string;
  /** Each Dockerfile step cached or ran, the time the cache saved, and why the first re-run step ran. */
  cacheReport?: CacheReport;
  /** The provenance attestation pushed with the image, or why there is none. */
  provenance?: ProvenanceReport;
  /** A merge group's image copied from the pull request build of the same tree and image config: nothing was built. */
  reusedFrom?: { sha: string; pr: number };
  /** Why a merge group's image was built rather than copied from its pull request's build. */
  reuseNote?: string;
  /** The pushed image's size and layers against the base branch's image. */
  sizeDiff?: SizeDiff;
}

/** One finding of BuildKit's Dockerfile build checks (a `StatusResponse.warnings` entry). */
export interface DockerfileFinding {
  /** The rule, e.g. `FromAsCasing`. */
  rule: string;
  /** BuildKit's short text after the rule's name, e.g. `'as' and 'FROM' keywords' casing do not match (line 1)`. */
  message: string;
  /** What the rule is about (BuildKit's `detail`). */
  description?: string;
  /** The rule's documentation. */
  url?: string;
  /** The Dockerfile lines, the path from the repository root; absent when the daemon gave none. */
  location?: FailureLocation;
}

export interface FailureLocation {
  /** Dockerfile path relative to the repository root (what annotations need). */
  file: string;
  startLine: number;
  endLine: number;
}

export interface BuildFailure {
  /** One line a person can act on, already redacted. */
  message: string;
  /** Failing step name, e.g. `[3/5] RUN npm test`. */
  step?: string;
  exitCode?: number;
  /** The build log (or its end), already redacted; ANSI escapes are removed here. */
  log: string | readonly string[];
  location?: FailureLocation;
  durationMs?: number;
  attempts?: BuildAttempts;
  stepsDone?: number;
  stepsTotal?: number;
  /** What BuildKit's Dockerfile build checks found before the failure (each also an annotation). */
  findings?: readonly DockerfileFinding[];
  /** The steps before the failure: cached or ran, and why the first one ran again. */
  cacheReport?: CacheReport;
}

/** How many attempts a build took and why each earlier one ended ("the builder was lost"). */
export interface BuildAttempts {
  count: number;
  earlier: readonly string[];
}

const TIMES = ["", "once", "twice"];

/** `2 attempts; the builder was lost once`, or undefined for a build that took one attempt. */
export function describeAttempts(attempts: BuildAttempts | undefined): string | undefined {
  if (!attempts || attempts.count <= 1) return undefined;
  const counts = new Map<string, number>();
  for (const cause of attempts.earlier) counts.set(cause, (counts.get(cause) ?? 0) + 1);
  const causes = [...counts].map(([cause, n]) => `${cause} ${TIMES[n] ?? `${n} times`}`);
  return [`${attempts.count} attempts`, ...(causes.length > 0 ? [causes.join(", ")] : [])].join("; ");
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

const attemptsNote = (attempts: BuildAttempts | undefined): string => {
  const described = describeAttempts(attempts);
  return described ? ` (${described})` : "";
};

const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;

function fence(body: string): { open: string; close: string } {
  // A loop, not Math.max(...runs): a log with ~100,000 backtick runs overflowed the stack as spread arguments.
  let longest = 2;
  for (const m of body.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const f = "`".repeat(longest + 1);
  return { open: `${f}text\n`, close: `\n${f}` };
}

/** `sha256:` and the first 12 hex digits, as `docker images` shows an id. */
const shortDigest = (digest: string): string => clipChars(digest, 20);

/** A fenced block: it scrolls instead of wrapping on a phone, and GitHub gives it a copy button. */
function codeBlock(body: string, lang: string): string[] {
  const { open, close } = fence(body);
  return [`${open.replace(/text\n$/, lang)}`, body, close.slice(1)];
}

/** The image's first tag's repository pinned to `digest`, as a command to copy. */
const pullByDigest = (tags: readonly string[], digest: string): string[] => [
  "",
  "Pull by digest:",
  "",
  ...codeBlock(`docker pull ${(tags[0] ?? "").replace(/:[^:/]+$/, "")}@${digest}`, "sh"),
];

/** Keeps a summary within the byte budget, cutting on a character boundary. */
function fit(summary: string): string {
  const note = "\n\n…(cut to fit GitHub's limit)";
  return Buffer.byteLength(summary) <= MAX_OUTPUT_BYTES ? summary : headUtf8(summary, MAX_OUTPUT_BYTES - Buffer.byteLength(note)) + note;
}

const stepsLine = (done: number, total: number, cached: number) => `${done}/${total} steps done, ${cached} cached`;

export function renderQueued(image: string): CheckRunOutput {
  return { title: "Queued", summary: fit(`Waiting for a builder for ${code(image)}.`) };
}

/** A failed attempt that the queue will retry. */
export function renderRetrying(image: string, note: string): CheckRunOutput {
  return { title: "Waiting to retry", summary: fit(`Building ${code(image)} will be tried again: ${stripAnsi(note)}`) };
}

export function renderProgress(image: string, p?: BuildProgress): CheckRunOutput {
  if (!p) return { title: "Building", summary: fit(`Building ${code(image)}.`) };
  const lines = [`Building ${code(image)}: ${stepsLine(p.stepsDone, p.stepsTotal, p.cachedSteps)}.`];
  if (p.currentStep) lines.push("", `Now: ${code(clipChars(p.currentStep, 200))}`);
  return { title: `Building (${p.stepsDone}/${p.stepsTotal})`, summary: fit(lines.join("\n")) };
}

export function renderSucceeded(image: string, r: BuildSuccess): CheckRunOutput {
  if (r.reusedFrom) return renderReused(image, r, r.reusedFrom);
  const lines = [
    `${r.pushed ? "Built and pushed" : "Built"} ${code(image)} in ${formatDuration(r.durationMs)}${attemptsNote(r.attempts)}.`,
    "",
    `| | |`,
    `|---|---|`,
    `| Steps | ${stepsLine(r.stepsDone, r.stepsTotal, r.cachedSteps)} |`,
  ];
  // On a phone the full digest would make this table scroll: it is whole in the pull command below.
  if (r.digest) lines.push(`| Digest | ${code(r.tags.length > 0 ? shortDigest(r.digest) : r.digest)} |`);
  if (r.platforms?.length) lines.push(`| Platforms | ${r.platforms.map(code).join(", ")} |`);
  if (r.builtOn?.length) lines.push(`| Builders | ${r.builtOn.map((b) => `${code(b.platform)} on ${code(b.builder)}`).join(", ")} |`);
  if (r.tags.length > 0) {
    lines.push("", r.pushed ? "**Pushed**" : "**Tagged (not pushed)**", "", ...r.tags.map((t) => `- ${code(t)}`));
    if (r.digest) lines.push(...pullByDigest(r.tags, r.digest));
  }
  if (r.leftOut && r.leftOut.tags.length > 0) {
    lines.push("", `Not moved, because ${r.leftOut.reason}: ${r.leftOut.tags.map(code).join(", ")}`);
  }
  lines.push(...renderCacheReport(r.cacheReport));
  lines.push(...renderSizeDiff(r.sizeDiff));
  lines.push(...renderProvenance(r.provenance));
  lines.push(...renderFindings(r.findings ?? [], r.checksNote));
  if (r.reuseNote) lines.push("", `Not reused from the pull request's build: ${stripAnsi(r.reuseNote)}`);
  const found = r.findings?.length ? `, ${countOf(r.findings.length, "Dockerfile check warning")}` : "";
  return { title: `Built in ${formatDuration(r.durationMs)}${attemptsNote(r.attempts)}${found}`, summary: fit(lines.join("\n")) };
}

/** A merge group's image that is its pull request's image: where it came from, and the tags it was copied to. */
function renderReused(image: string, r: BuildSuccess, from: { sha: string; pr: number }): CheckRunOutput {
  const lines = [
    `Reused ${code(image)} from the build of PR #${from.pr} at ${code(from.sha)}: the merge group's commit has the same tree and the image the same config, so nothing was built.`,
    "",
    `| | |`,
    `|---|---|`,
  ];
  if (r.digest) lines.push(`| Digest | ${code(r.tags.length > 0 ? shortDigest(r.digest) : r.digest)} |`);
  if (r.platforms?.length) lines.push(`| Platforms | ${r.platforms.map(code).join(", ")} |`);
  lines.push(`| Revision label | ${code(from.sha)} (the pull request's commit) |`);
  if (r.tags.length > 0) lines.push("", "**Tagged**", "", ...r.tags.map((t) => `- ${code(t)}`), ...(r.digest ? pullByDigest(r.tags, r.digest) : []));
  return { title: `Reused from PR #${from.pr} (${from.sha.slice(0, 7)}) in ${formatDuration(r.durationMs)}`, summary: fit(lines.join("\n")) };
}

/** The end of the log that fits in `output.text` (≤ 65,535 bytes), marked at the top when cut. */
export function renderLogTail(log: string | readonly string[], maxBytes = MAX_OUTPUT_BYTES): string {
  const text = stripAnsi(typeof log === "string" ? log : log.join("\n")).replace(/\s+$/, "");
  if (text === "") return "";
  const { open, close } = fence(text);
  const whole = `${open}${text}${close}`;
  if (Buffer.byteLength(whole) <= maxBytes) return whole;
  const marker = "**Log truncated: showing the last part only. The full log is on the log page.**\n\n";
  const room = maxBytes - Buffer.byteLength(marker + open + close);
  let tail = tailUtf8(text, room);
  // Start on a whole line when one begins within the kept part.
  const nl = tail.indexOf("\n");
  if (nl >= 0 && nl < tail.length - 1) tail = tail.slice(nl + 1);
  return `${marker}${open}${tail}${close}`;
}

export function renderFailed(image: string, f: BuildFailure): CheckRunOutput {
  const where = f.location ? ` (${f.location.file}:${f.location.startLine})` : "";
  const exit = f.exitCode !== undefined ? ` with exit code ${f.exitCode}` : "";
  const lines = [
    f.step ? `Building ${code(image)} failed at ${code(clipChars(f.step, 300))}${exit}${where}.` : `Building ${code(image)} failed${exit}.`,
    "",
    `> ${clipChars(stripAnsi(f.message), 2000).replace(/\n/g, "\n> ")}`,
  ];
  if (f.stepsDone !== undefined && f.stepsTotal !== undefined) lines.push("", `${f.stepsDone}/${f.stepsTotal} steps done before the failure.`);
  if (f.durationMs !== undefined) lines.push("", `Ran for ${formatDuration(f.durationMs)}${attemptsNote(f.attempts)}.`);
  lines.push(...renderCacheReport(f.cacheReport));
  lines.push(...renderFindings(f.findings ?? []));
  const title = f.step ? clipChars(`Failed: ${f.step}`, 120) : "Build failed";
  const text = renderLogTail(f.log);
  return { title, summary: fit(lines.join("\n")), ...(text ? { text } : {}) };
}

/** Findings listed in the summary; the rest are still annotations. */
const FINDINGS_LISTED = 30;

const countOf = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;

/** A cell of a Markdown table: one line, no column break. */
const cell = (text: string): string => clipChars(stripAnsi(text).replace(/\s+/g, " ").replace(/\|/g, "\\|"), 300);

/** The summary's "Dockerfile checks" section: how many findings, a table of them, and the note, if any. */
function renderFindings(findings: readonly DockerfileFinding[], note?: string): string[] {
  if (findings.length === 0 && !note) return [];
  const lines = ["", `**Dockerfile checks:** ${findings.length === 0 ? "no findings" : countOf(findings.length, "finding")}`];
  if (findings.length > 0) {
    lines.push("", "| Rule | Where | Finding |", "|---|---|---|");
    for (const f of findings.slice(0, FINDINGS_LISTED)) {
      const rule = f.url && /^https:\/\//.test(f.url) ? `[${cell(f.rule)}](${f.url.replace(/[()\s]/g, encodeURIComponent)})` : cell(f.rule);
      const where = f.location ? code(`${f.location.file}:${f.location.startLine}`) : "";
      lines.push(`| ${rule} | ${where} | ${cell(f.message)} |`);
    }
    if (findings.length > FINDINGS_LISTED) lines.push("", `…and ${findings.length - FINDINGS_LISTED} more, each an annotation.`);
  }
  if (note) lines.push("", `> ${cell(note)}`);
  return lines;
}

export function renderCancelled(reason: string): CheckRunOutput {
  return { title: clipChars(`Cancelled: ${reason}`, 120), summary: fit(`The build was cancelled: ${reason}.`) };
}

export function renderNeutral(reason: string): CheckRunOutput {
  return { title: clipChars(reason, 120), summary: fit(reason) };
}

/** Commit-status descriptions are limited to 140 characters. */
export function statusDescription(text: string): string {
  return clipChars(stripAnsi(text).replace(/\s+/g, " ").trim(), 140);
}
