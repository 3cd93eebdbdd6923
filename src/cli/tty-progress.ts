import type { ProgressEvent, ProgressHandler } from "@buildkit-bot/buildkit";

export interface TtyProgress {
  handler: ProgressHandler;
  /** Draws the final state and stops redrawing. */
  stop(): void;
}

interface LiveStep {
  name: string;
  startedAt: number;
  lastLog?: string;
}

const REDRAW_MS = 100;
const MAX_RUNNING_SHOWN = 8;

/**
 * A live step view for terminals: finished steps scroll up as one line each (`✔ name 0.4s`, `CACHED`, `✖`),
 * running steps stay in a redrawn block at the bottom with their elapsed time and last log line, under a
 * `[+] Building 12.3s (5/9)` header.
 */
export function ttyProgress(out: NodeJS.WriteStream, now: () => number = Date.now): TtyProgress {
  const startedAt = now();
  const running = new Map<string, LiveStep>();
  let counters = { completed: 0, total: 0 };
  let drawnLines = 0;
  let stopped = false;

  const width = (): number => Math.max(20, (out.columns || 100) - 1);
  const fit = (line: string): string => (line.length > width() ? `${line.slice(0, width() - 1)}…` : line);
  const elapsed = (ms: number): string => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;

  const clearBlock = (): string => (drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[J` : "");

  const block = (): string[] => {
    const lines = [fit(`[+] Building ${elapsed(now() - startedAt)} (${counters.completed}/${counters.total})`)];
    const steps = [...running.values()].slice(-MAX_RUNNING_SHOWN);
    for (const step of steps) {
      lines.push(fit(` => ${step.name} ${elapsed(now() - step.startedAt)}`));
      if (step.lastLog) lines.push(fit(`    \x1b[2m${step.lastLog}\x1b[0m`).replace(/…$/, "…\x1b[0m"));
    }
    return lines;
  };

  const redraw = (above: string[] = []): void => {
    if (stopped) return;
    const lines = block();
    out.write(clearBlock() + above.map((l) => `${fit(l)}\n`).join("") + lines.map((l) => `${l}\n`).join(""));
    drawnLines = lines.length;
  };

  const timer = setInterval(() => redraw(), REDRAW_MS);
  timer.unref();

  const finish = (event: { id: string; name: string }, text: string): void => {
    running.delete(event.id);
    redraw([text.replace("%s", event.name)]);
  };

  const handler: ProgressHandler = (event: ProgressEvent) => {
    switch (event.type) {
      case "step-started":
        running.set(event.id, { name: event.name, startedAt: event.at.getTime() });
        return;
      case "step-cached":
        finish(event, " ✔ %s CACHED");
        return;
      case "step-completed":
        finish(event, ` ✔ %s ${elapsed(event.durationMs)}`);
        return;
      case "step-failed":
        finish(event, ` ✖ %s: ${event.error}`);
        return;
      case "log": {
        const step = running.get(event.id);
        const last = event.data.split("\n").filter((l) => l.trim() !== "").pop();
        if (step && last !== undefined) step.lastLog = last.replace(/\r/g, "");
        return;
      }
      case "warning":
        redraw([` ! ${event.message}`]);
        return;
      case "counters":
        counters = { completed: event.completed, total: event.total };
        return;
      case "progress":
        return;
    }
  };

  return {
    handler,
    stop: () => {
      if (stopped) return;
      clearInterval(timer);
      redraw();
      stopped = true;
    },
  };
}
