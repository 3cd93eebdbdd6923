import { LogTail } from "@buildkit-bot/buildkit";
import type { ProgressEvent } from "@buildkit-bot/buildkit";
import type { BuildProgress, DockerfileFinding } from "../github/index.js";
import type { LogWriter } from "./log-writer.js";

/** Where the bridge sends check-run progress; never awaited (BuildCheckRun.progress fits). */
export type ProgressSink = (progress: BuildProgress) => Promise<unknown>;

/**
 * Turns one build's progress events into log-page records (step headers, log lines, warnings) and check-run
 * progress. The check-run updates are fired and forgotten: BuildCheckRun throttles them (30 s, only on change)
 * and a slow GitHub must never hold up the daemon's status stream.
 */
export class ProgressBridge {
  #progress: BuildProgress = { stepsDone: 0, stepsTotal: 0, cachedSteps: 0 };
  #current: string | undefined;
  #partial = new Map<string, string>();
  /** The build's last log lines, whatever step wrote them: the report's tail when a failure names no step. */
  #recent = new LogTail();
  /** Dockerfile build check findings, once each (a multi-platform build reports each per platform). */
  #findings = new Map<string, DockerfileFinding>();

  constructor(
    private readonly writer: LogWriter,
    private readonly sink: ProgressSink | undefined,
    private readonly onSinkError: (err: unknown) => void = () => {},
    /** The Dockerfile as the frontend was given it and its path in the repository, where annotations need it. */
    private readonly dockerfile?: { inContext: string; path: string },
  ) {}

  /** The latest counters, for the final report. */
  get progress(): BuildProgress {
    return { ...this.#progress, ...(this.#current ? { currentStep: this.#current } : {}) };
  }

  readonly onEvent = (event: ProgressEvent): void => {
    switch (event.type) {
      case "step-started":
        this.writer.step(event.id, event.name, "running");
        if (!event.internal) this.#current = event.name;
        break;
      case "step-cached":
        this.writer.step(event.id, event.name, "cached");
        break;
      case "step-completed":
        this.#flushPartial(event.id);
        this.writer.step(event.id, event.name, "done");
        break;
      case "step-failed":
        this.#flushPartial(event.id);
        this.writer.step(event.id, event.name, "error", exitCodeOf(event.error));
        this.writer.line(event.error, event.id);
        break;
      case "log":
        this.#recent.append(event.data);
        this.#log(event.id, event.data);
        break;
      case "warning":
        this.writer.line(`WARNING: ${event.message}${event.detail ? `\n${event.detail}` : ""}`, event.id);
        this.#finding(event);
        break;
      case "counters":
        this.#progress = { stepsDone: event.completed, stepsTotal: event.total, cachedSteps: event.cached };
        if (this.sink) this.sink(this.progress).catch(this.onSinkError);
        break;
      case "progress":
        break;
    }
  };

  /** What the Dockerfile build checks found so far, in the order reported. */
  findings(): DockerfileFinding[] {
    return [...this.#findings.values()];
  }

  /** A daemon warning shaped as a build check's (`RuleName: text`, with a documentation link or a location). */
  #finding(event: Extract<ProgressEvent, { type: "warning" }>): void {
    const rule = CHECK_RULE.exec(event.message);
    if (!rule || (!event.url && !event.location)) return;
    const location = event.location && {
      file: this.dockerfile && event.location.file === this.dockerfile.inContext ? this.dockerfile.path : event.location.file,
      startLine: event.location.startLine,
      endLine: event.location.endLine,
    };
    const finding: DockerfileFinding = {
      rule: rule[1] ?? "",
      message: rule[2] ?? "",
      ...(event.detail ? { description: event.detail } : {}),
      ...(event.url ? { url: event.url } : {}),
      ...(location ? { location } : {}),
    };
    const key = JSON.stringify([finding.rule, finding.message, location?.file, location?.startLine]);
    if (!this.#findings.has(key) && this.#findings.size < MAX_FINDINGS) this.#findings.set(key, finding);
  }

  /** The build's most recent log lines (bounded), for failures the client could not tie to a step. */
  recentLines(): string[] {
    return this.#recent.lines();
  }

  /** Writes what is left of unfinished lines (the build ended mid-line). */
  close(): void {
    for (const id of [...this.#partial.keys()]) this.#flushPartial(id);
  }

  #log(step: string, data: string): void {
    const text = (this.#partial.get(step) ?? "") + data;
    const lines = text.split("\n");
    const rest = lines.pop() ?? "";
    for (const line of lines) this.writer.line(line.endsWith("\r") ? line.slice(0, -1) : line, step);
    if (rest === "") this.#partial.delete(step);
    else this.#partial.set(step, rest);
  }

  #flushPartial(step: string): void {
    const rest = this.#partial.get(step);
    this.#partial.delete(step);
    if (rest !== undefined && rest !== "") this.writer.line(rest, step);
  }
}

/** BuildKit's build check warnings read `FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)`. */
const CHECK_RULE = /^([A-Z][A-Za-z0-9]*): ([\s\S]+)$/;
/** A Dockerfile cannot hold more findings worth keeping; the bound keeps a hostile one from filling memory. */
const MAX_FINDINGS = 1000;

/** The process exit code in a failed step's error ("… did not complete successfully: exit code: 3"), if any. */
function exitCodeOf(error: string): number | undefined {
  const match = /exit code: (\d+)/.exec(error);
  return match ? Number(match[1]) : undefined;
}
