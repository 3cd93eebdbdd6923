import type { SourceLocation } from "../errors.js";

/** The parsed parts of a step name such as `[linux/amd64 build 2/4] RUN make` (see `parseStepName`). */
export interface StepLabel {
  /** Stage name (`build`, `stage-1`) when the name carries one. */
  stage?: string;
  /** 1-based position of the step in its stage, as the Dockerfile frontend counts it. */
  index?: number;
  /** Number of counted steps in the stage. */
  total?: number;
  /** Platform prefix of multi-platform builds. */
  platform?: string;
  /** `[internal] …` vertexes of the frontend (load build definition, load metadata, load build context). */
  internal: boolean;
}

interface StepEventBase {
  /** Vertex digest; stable for the whole build. */
  id: string;
  /** Vertex name as the daemon reports it (redacted). */
  name: string;
  at: Date;
}

/**
 * Everything a build reports while it runs, one union on `type`. Every step gets exactly one `step-started`
 * before any other event about it (cached steps too, so a handler can print the header), then at most one
 * terminal event: `step-cached`, `step-completed` or `step-failed`; only log output the daemon delivers late
 * can still follow it. All text is redacted.
 */
export type ProgressEvent =
  | ({ type: "step-started" } & StepEventBase & StepLabel)
  | ({ type: "step-cached" } & StepEventBase)
  | ({ type: "step-completed"; durationMs: number } & StepEventBase)
  | ({ type: "step-failed"; error: string; durationMs?: number } & StepEventBase)
  | ({
      type: "log";
      stream: "stdout" | "stderr";
      /** Whole lines (each ending in `\n`) except when the step ended or the build finished mid-line. */
      data: string;
    } & StepEventBase)
  | ({
      type: "progress";
      /** The sub-status shown by buildx, e.g. `transferring context:`, `sha256:… layer`, `exporting layers`. */
      status: string;
      /** What is being done to it when the daemon says (`extracting`, `pushing`); often empty. */
      action?: string;
      current: number;
      /** Absent when the size is unknown. */
      total?: number;
      done: boolean;
      /** When the daemon says this sub-status started. */
      startedAt?: Date;
    } & StepEventBase)
  | {
      type: "counters";
      /**
       * Vertexes the build reported, as buildx's `(done/total)` counts them: `[internal]` steps included, the
       * vertexes of one progress group (BuildKit v0.10+) counted once.
       */
      total: number;
      /** Finished successfully, cached ones included (buildx's `done` is `completed + failed`). */
      completed: number;
      cached: number;
      running: number;
      failed: number;
      at: Date;
    }
  | {
      type: "warning";
      /** Vertex digest the warning belongs to, when given. */
      id?: string;
      message: string;
      detail?: string;
      url?: string;
      location?: SourceLocation;
      at: Date;
    };

export type ProgressEventType = ProgressEvent["type"];

export type ProgressHandler = (event: ProgressEvent) => void;
