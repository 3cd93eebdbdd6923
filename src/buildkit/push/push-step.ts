import type { PushProgressLine } from "../engine/engine-api.js";
import type { ProgressEvent, ProgressHandler } from "../progress/events.js";
import { stagedNames } from "./engine-publish.js";

/**
 * What the progress shows instead of the staging names an Engine build is exported under: each staged name becomes
 * the final names of its repository (`naming to reg/app:buildkit-bot-staging-… done` reads `naming to reg/app:1,
 * reg/app:latest done`), so no staging name reaches a person.
 */
export function finalNamesInText(names: readonly string[], buildRef: string): (text: string) => string {
  const byStaged = new Map<string, string[]>();
  for (const name of names) {
    const staged = stagedNames([name], buildRef)[0] as string;
    byStaged.set(staged, [...(byStaged.get(staged) ?? []), name]);
  }
  return (text) => {
    let out = text;
    for (const [staged, finals] of byStaged) out = out.split(staged).join(finals.join(","));
    return out;
  };
}

export interface PushStep {
  /** Feeds one line of the Engine's push progress for `repository`. */
  line(repository: string, line: PushProgressLine): void;
  /** The final tags were written. */
  done(): void;
  failed(error: unknown): void;
}

/**
 * The push from the Engine's store as a step of its own in the build's progress (`pushing NAME, …`), after the
 * daemon's steps: one sub-status per layer with its bytes, then DONE or ERROR. Handler errors are swallowed, as the
 * tracker does, so a broken printer cannot fail a push.
 */
export function pushStep(onProgress: ProgressHandler | undefined, names: readonly string[]): PushStep {
  const id = `push:${names.join(",")}`;
  const name = `pushing ${names.join(", ")}`;
  const startedAt = new Date();
  const layerStarted = new Map<string, Date>();
  const sizes = new Map<string, number>();
  const emit = (event: ProgressEvent): void => {
    try {
      onProgress?.(event);
    } catch {
      // as ProgressTracker: handlers must not be able to break the build
    }
  };
  emit({ type: "step-started", id, name, at: startedAt, internal: false });
  return {
    line(repository, line) {
      if (!line.id || !line.status) return;
      const status = `pushing layer ${line.id} to ${repository}`;
      const at = new Date();
      const done = line.status === "Pushed" || line.status === "Layer already exists" || line.status.startsWith("Mounted from");
      if (!done && line.status !== "Pushing") return;
      const began = layerStarted.get(status) ?? at;
      layerStarted.set(status, began);
      const total = line.progressDetail?.total ?? sizes.get(status);
      if (total) sizes.set(status, total);
      const current = done ? (total ?? 0) : (line.progressDetail?.current ?? 0);
      emit({ type: "progress", id, name, at, status, current, ...(total ? { total } : {}), done, startedAt: began });
    },
    done() {
      const at = new Date();
      emit({ type: "step-completed", id, name, at, durationMs: at.getTime() - startedAt.getTime() });
    },
    failed(error) {
      const at = new Date();
      emit({ type: "step-failed", id, name, at, error: error instanceof Error ? error.message : String(error), durationMs: at.getTime() - startedAt.getTime() });
    },
  };
}
