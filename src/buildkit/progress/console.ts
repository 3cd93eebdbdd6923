import type { ProgressEvent, ProgressHandler } from "./events.js";

export interface ConsoleProgressOptions {
  /** ANSI colours for errors, warnings and cached steps. Default false. */
  color?: boolean;
}

/** A plain-text progress handler; `end()` prints what is shown once the build is over (failed steps' last lines). */
export type ConsoleProgress = ProgressHandler & { end(): void };

const RED = "\x1b[31m";
const YELLOW = "\x1b[33m";
const BLUE = "\x1b[34m";
const RESET = "\x1b[0m";

/** Log lines of a failed step repeated under the progress once the build is over, as buildctl keeps them. */
const ERROR_LOG_LINES = 10;
/**
 * A running sub-status is first shown once it has run this long: buildctl redraws plain output at most every
 * 100 ms, so what starts and ends in between shows only as done.
 */
const STATUS_FIRST_MS = 100;
/** A running sub-status is shown again only after this share of its total or this long (buildctl's rule). */
const STATUS_STEP = 0.05;
const STATUS_INTERVAL_MS = 5000;

interface StepView {
  /** `#N`, given when the step is first printed. */
  n?: number;
  name: string;
  startedAt: number;
  finished: boolean;
  error?: string;
  /** Last log lines as printed (offset and text), for the block `end()` prints. */
  tail: string[];
  shownStatus: Map<string, { current: number; at: number }>;
  statusSeen: Map<string, number>;
}

/**
 * Progress as buildctl and `buildx --progress=plain` print it. Each step is a block under a `#N name` header
 * (numbered when first printed); its sub-statuses (`transferring context: 49B done`), `WARN:` lines and log lines
 * prefixed with seconds since the step started, then `CACHED`, `DONE 0.2s`, `ERROR: …` or `CANCELED`. A block
 * left unfinished because another step has output ends with `#N ...`, and the header is printed again when the
 * step goes on. A step that starts while another step's block is open waits for output of its own.
 */
export function consoleProgress(out: NodeJS.WritableStream, options: ConsoleProgressOptions = {}): ConsoleProgress {
  const paint = (code: string, text: string): string => (options.color ? `${code}${text}${RESET}` : text);
  const steps = new Map<string, StepView>();
  let printed = 0;
  let current: string | undefined;
  let wroteAnything = false;

  const view = (id: string, name: string, at: Date): StepView => {
    let known = steps.get(id);
    if (!known) {
      known = { name, startedAt: at.getTime(), finished: false, tail: [], shownStatus: new Map(), statusSeen: new Map() };
      steps.set(id, known);
    } else if (!known.name && name) {
      known.name = name;
    }
    return known;
  };

  /** Makes `id` the open block, closing another open one with `#N ...`; returns the text to write first. */
  const open = (id: string, step: StepView): string => {
    if (current === id) return "";
    let text = "";
    const previous = current === undefined ? undefined : steps.get(current);
    if (previous && !previous.finished) text += `#${previous.n} ...\n`;
    if (wroteAnything || text) text += "\n";
    step.n ??= ++printed;
    text += `${`#${step.n} ${step.name}`.trimEnd()}\n`;
    current = id;
    return text;
  };

  const write = (id: string, step: StepView, body: string[], finished = false): void => {
    let text = open(id, step);
    for (const line of body) text += `#${step.n} ${line}\n`;
    if (finished) {
      step.finished = true;
      current = undefined;
    }
    if (text) out.write(text);
    wroteAnything = true;
  };

  const handler = (event: ProgressEvent): void => {
    switch (event.type) {
      case "step-started": {
        const step = view(event.id, event.name, event.at);
        if (current === undefined && step.n === undefined) write(event.id, step, []);
        return;
      }
      case "step-cached":
        write(event.id, view(event.id, event.name, event.at), [paint(BLUE, "CACHED")], true);
        return;
      case "step-completed":
        write(event.id, view(event.id, event.name, event.at), [`DONE ${seconds(event.durationMs)}`], true);
        return;
      case "step-failed": {
        const step = view(event.id, event.name, event.at);
        // Steps stopped because the build was cancelled or another step failed are not errors of their own.
        if (/context canceled$/.test(event.error)) {
          write(event.id, step, [paint(YELLOW, "CANCELED")], true);
        } else {
          step.error = event.error;
          write(event.id, step, [paint(RED, `ERROR: ${event.error}`)], true);
        }
        return;
      }
      case "log": {
        const step = view(event.id, event.name, event.at);
        const offset = logOffset(event.at.getTime() - step.startedAt);
        const body = splitLines(event.data).map((line) => `${offset} ${line}`);
        if (body.length === 0) return;
        step.tail.push(...body);
        if (step.tail.length > ERROR_LOG_LINES) step.tail.splice(0, step.tail.length - ERROR_LOG_LINES);
        write(event.id, step, body);
        return;
      }
      case "progress": {
        const step = view(event.id, event.name, event.at);
        const at = event.at.getTime();
        const firstSeen = step.statusSeen.get(event.status) ?? event.startedAt?.getTime() ?? at;
        step.statusSeen.set(event.status, firstSeen);
        const shown = step.shownStatus.get(event.status);
        if (!event.done && !shown && at - firstSeen < STATUS_FIRST_MS) return;
        if (!event.done && shown) {
          const share = event.total ? (event.current - shown.current) / event.total : 0;
          if (share < STATUS_STEP && at - shown.at < STATUS_INTERVAL_MS) return;
        }
        step.shownStatus.set(event.status, { current: event.current, at });
        write(event.id, step, [statusLine(event)]);
        return;
      }
      case "warning": {
        const step = event.id === undefined ? undefined : steps.get(event.id);
        if (event.id !== undefined && step) {
          write(event.id, step, [paint(YELLOW, `WARN: ${event.message}`)]);
          return;
        }
        // The client's own warnings belong to no step.
        const where = event.location ? ` (${event.location.file}:${event.location.startLine})` : "";
        const text = [paint(YELLOW, `WARNING: ${event.message}${where}`)];
        if (event.detail) text.push(...splitLines(event.detail).map((l) => `  ${l}`));
        if (event.url) text.push(`  More info: ${event.url}`);
        const previous = current === undefined ? undefined : steps.get(current);
        const close = previous && !previous.finished ? `#${previous.n} ...\n` : "";
        out.write(`${close}${wroteAnything ? "\n" : ""}${text.join("\n")}\n`);
        wroteAnything = true;
        current = undefined;
        return;
      }
      case "counters":
        return;
    }
  };

  return Object.assign(handler, {
    end(): void {
      let text = "";
      for (const step of steps.values()) {
        if (step.error === undefined) continue;
        text += `------\n > ${step.name}:\n${step.tail.map((l) => `${l}\n`).join("")}------\n`;
      }
      if (text) out.write(text);
    },
  });
}

/** `ID 1.23MB / 4.56MB 0.3s done`: what buildctl prints for a sub-status. */
function statusLine(event: Extract<ProgressEvent, { type: "progress" }>): string {
  let line = event.status;
  if (event.total) line += ` ${bytes(event.current)} / ${bytes(event.total)}`;
  else if (event.current > 0) line += ` ${bytes(event.current)}`;
  if (event.startedAt) {
    const ms = event.at.getTime() - event.startedAt.getTime();
    if (ms > 10) line += ` ${seconds(ms)}`;
  }
  return event.done ? `${line} done` : line;
}

function splitLines(data: string): string[] {
  const lines = data.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
}

/** Seconds since the step started, with fewer decimals as it grows (3 below 10 s, 2 below 100 s, then 1). */
function logOffset(ms: number): string {
  const sec = Math.max(0, ms) / 1000;
  return sec.toFixed(sec < 10 ? 3 : sec < 100 ? 2 : 1);
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** Whole bytes below 1 kB, else two decimals of the largest decimal unit (`49B`, `1.23kB`, `4.00MB`). */
function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let unit = 0;
  while (n >= 1000 ** (unit + 1) && unit < units.length - 1) unit++;
  return unit === 0 ? `${n}B` : `${(n / 1000 ** unit).toFixed(2)}${units[unit]}`;
}
