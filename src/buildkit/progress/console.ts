import type { ProgressEvent, ProgressHandler } from "./events.js";

export interface ConsoleProgressOptions {
  /** ANSI colours for errors, warnings and cached steps. Default false. */
  color?: boolean;
}

const RED = "\x1b[31m";
const YELLOW = "\x1b[33m";
const BLUE = "\x1b[34m";
const RESET = "\x1b[0m";

/**
 * Human-readable progress in the shape of buildx `--progress=plain`: steps numbered `#N` in order of first
 * appearance, log lines prefixed with seconds since the step started, `CACHED` / `DONE 0.2s` / `ERROR: …`.
 * The header is repeated when output switches to another step, so interleaved steps stay readable.
 */
export function consoleProgress(out: NodeJS.WritableStream, options: ConsoleProgressOptions = {}): ProgressHandler {
  const paint = (code: string, text: string): string => (options.color ? `${code}${text}${RESET}` : text);
  const steps = new Map<string, { n: number; name: string; startedAt: number }>();
  let current: string | undefined;
  let wroteAnything = false;

  const step = (id: string, name: string, at: Date) => {
    let known = steps.get(id);
    if (!known) {
      known = { n: steps.size + 1, name, startedAt: at.getTime() };
      steps.set(id, known);
    } else if (!known.name && name) {
      known.name = name;
    }
    return known;
  };

  const lines = (id: string, name: string, at: Date, body: string[]): void => {
    const s = step(id, name, at);
    let text = "";
    if (current !== id) {
      if (wroteAnything) text += "\n";
      text += `${`#${s.n} ${s.name}`.trimEnd()}\n`;
      current = id;
    }
    for (const line of body) text += `#${s.n} ${line}\n`;
    out.write(text);
    wroteAnything = true;
  };

  return (event: ProgressEvent) => {
    switch (event.type) {
      case "step-started":
        lines(event.id, event.name, event.at, []);
        return;
      case "step-cached":
        lines(event.id, event.name, event.at, [paint(BLUE, "CACHED")]);
        return;
      case "step-completed":
        lines(event.id, event.name, event.at, [`DONE ${seconds(event.durationMs, 1)}`]);
        return;
      case "step-failed":
        // Steps stopped because the build was cancelled or another step failed are not errors of their own.
        if (/context canceled$/.test(event.error)) lines(event.id, event.name, event.at, [paint(YELLOW, "CANCELED")]);
        else lines(event.id, event.name, event.at, [paint(RED, `ERROR: ${event.error}`)]);
        return;
      case "log": {
        const s = step(event.id, event.name, event.at);
        const offset = logOffset(event.at.getTime() - s.startedAt);
        const body = splitLines(event.data).map((line) => `${offset} ${line}`);
        if (body.length > 0) lines(event.id, event.name, event.at, body);
        return;
      }
      case "progress": {
        if (!event.done) return;
        const size =
          event.total !== undefined
            ? `${bytes(event.current)} / ${bytes(event.total)} `
            : event.current > 0
              ? `${bytes(event.current)} `
              : "";
        const action = event.action ? `${event.action} ` : "";
        lines(event.id, event.name, event.at, [`${event.status} ${action}${size}done`]);
        return;
      }
      case "warning": {
        const where = event.location ? ` (${event.location.file}:${event.location.startLine})` : "";
        const text = [paint(YELLOW, `WARNING: ${event.message}${where}`)];
        if (event.detail) text.push(...splitLines(event.detail).map((l) => `  ${l}`));
        if (event.url) text.push(`  More info: ${event.url}`);
        out.write(`${wroteAnything ? "\n" : ""}${text.join("\n")}\n`);
        wroteAnything = true;
        current = undefined;
        return;
      }
      case "counters":
        return;
    }
  };
}

function splitLines(data: string): string[] {
  const lines = data.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
}

/** Seconds since the step started, with fewer decimals as it grows (buildx: 3 below 10 s, 2 below 100 s). */
function logOffset(ms: number): string {
  const sec = Math.max(0, ms) / 1000;
  return sec.toFixed(sec < 10 ? 3 : sec < 100 ? 2 : 1);
}

function seconds(ms: number, digits: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(digits)}s`;
}

/** Decimal units with up to 4 significant digits, like Docker's `HumanSize`. */
function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(4))}${units[unit]}`;
}
