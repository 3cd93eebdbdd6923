import { parseStepName } from "@buildkit-bot/buildkit";
import type { ProgressEvent } from "@buildkit-bot/buildkit";

/** One Dockerfile step of a build, as the solve's progress told it. */
export interface TimelineStep {
  /** Vertex digest. */
  digest: string;
  /** The name BuildKit gave it (redacted), e.g. `[linux/arm64 build 2/4] RUN make`. */
  name: string;
  /**
   * The step across commits: platform, stage and instruction text, without the position (`2/4`), which moves when
   * a line is added above. A git context's commit is in every vertex digest below it, so digests rarely match.
   */
  key: string;
  /** The instruction, e.g. `COPY src/ /src`. */
  text: string;
  stage?: string;
  index: number;
  status: "running" | "cached" | "ran" | "failed";
  durationMs?: number;
  /** When the step started (ms since epoch); the order steps ran in. */
  startedAt: number;
  /**
   * A `FROM`: BuildKit resolves its image and reports the step done, never cached, even when every step on it comes
   * from the cache (buildkitd v0.24 and the Engine 20.10 alike). `pulled`: the daemon fetched some of the image's
   * blobs for this build (reported under the step, on buildkitd after it is done, when a later step needs them).
   */
  from?: { pulled: boolean };
}

/** A blob transfer under a `FROM` step: `sha256:…` (a download) or `extracting sha256:…`. */
const BLOB_STATUS = /^(extracting )?sha256:[0-9a-f]{64}$/;

/** Steps kept per build at most: a Dockerfile has fewer; the bound keeps a hostile one from filling memory. */
const MAX_STEPS = 2000;

/**
 * Collects a build's Dockerfile steps from its progress events (the same ones the trail gets): which were cached,
 * which ran and for how long. `[internal]` vertexes and the exporter's are left out.
 */
export class StepTimeline {
  #steps = new Map<string, TimelineStep>();
  #stages = new Map<string, number>();

  readonly onEvent = (event: ProgressEvent): void => {
    if (event.type === "step-started") {
      if (event.internal || event.index === undefined || this.#steps.has(event.id) || this.#steps.size >= MAX_STEPS) return;
      const { text } = parseStepName(event.name);
      const stageKey = `${event.platform ?? ""}\u0000${event.stage ?? ""}`;
      if (!this.#stages.has(stageKey)) this.#stages.set(stageKey, this.#stages.size);
      this.#steps.set(event.id, {
        digest: event.id,
        name: event.name,
        key: `${stageKey}\u0000${text}`,
        text,
        ...(event.stage !== undefined ? { stage: event.stage } : {}),
        index: event.index,
        status: "running",
        startedAt: event.at.getTime(),
        ...(/^FROM\s/i.test(text) ? { from: { pulled: false } } : {}),
      });
      return;
    }
    const step = "id" in event && event.id !== undefined ? this.#steps.get(event.id) : undefined;
    if (!step) return;
    if (event.type === "progress") {
      if (step.from && BLOB_STATUS.test(event.status)) step.from.pulled = true;
    } else if (event.type === "step-cached") step.status = "cached";
    else if (event.type === "step-completed") {
      step.status = "ran";
      step.durationMs = event.durationMs;
    } else if (event.type === "step-failed") {
      step.status = "failed";
      if (event.durationMs !== undefined) step.durationMs = event.durationMs;
    }
  };

  /** The steps in Dockerfile order: stages as they first appeared, then by position in the stage. */
  steps(): TimelineStep[] {
    const stageOf = (s: TimelineStep): number => this.#stages.get(s.key.split("\u0000", 2).join("\u0000")) ?? 0;
    return [...this.#steps.values()].sort((a, b) => stageOf(a) - stageOf(b) || a.index - b.index);
  }
}
