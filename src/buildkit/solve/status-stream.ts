import type * as grpc from "@grpc/grpc-js";
import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import type { StatusResponse__Output } from "../generated/moby/buildkit/v1/StatusResponse.js";

/**
 * How long the Status stream may stay silent after Solve returned before it is cancelled; Engine 20.10 can leave
 * it open when Status attached after the job ended (docs/buildkit-wire.md#status-stream).
 */
export const STATUS_GRACE_MS = 1500;

/** However long messages keep coming, the stream is cancelled this long after Solve returned. */
export const STATUS_DRAIN_CAP_MS = 60_000;

/**
 * After each empty message the stream pauses this long. Once a step's log outruns Engine 20.10 (a burst of a few MB
 * with the step-log limits raised) the Engine stops delivering that log and streams empty messages back to back,
 * some 200,000 a second, spinning a core on each side until the build ends. Pausing lets HTTP/2 flow control hold
 * the Engine's loop back: one empty message per pause, and a paused stream loses nothing.
 */
export const EMPTY_MESSAGE_PAUSE_MS = 1;

/** Healthy daemons send no empty messages at all; this many mean the Engine has stopped delivering the log. */
export const EMPTY_MESSAGES_MEANING_LOG_LOST = 500;

export interface StatusStream {
  /**
   * Resolves when the stream ended by itself or was cancelled: after `graceMs` without a message carrying
   * anything (a client that is behind keeps reading what the daemon already sent), `capMs` at the latest.
   */
  settle(graceMs?: number, capMs?: number): Promise<void>;
  cancel(): void;
}

/**
 * Follows `Control.Status` for one build ref, handing every message to `onMessage`, and calls `onLogLost` once when
 * the Engine's empty messages show it has stopped delivering the log. Stream errors are not build failures (the
 * Solve result is authoritative), so they only end the stream.
 */
export function followStatus(
  control: ControlClient,
  ref: string,
  onMessage: (response: StatusResponse__Output) => void,
  onLogLost: () => void = () => {},
): StatusStream {
  const call: grpc.ClientReadableStream<StatusResponse__Output> = control.Status({ Ref: ref });
  let done = false;
  /** The silence timer while settling; pushed back by every message with content. */
  let silence: NodeJS.Timeout | undefined;
  let pause: NodeJS.Timeout | undefined;
  let empty = 0;
  const ended = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      clearTimeout(pause);
      resolve();
    };
    call.on("end", finish);
    call.on("error", finish);
    call.on("close", finish);
  });
  call.on("data", (response: StatusResponse__Output) => {
    const content = hasContent(response);
    if (silence && content) silence.refresh();
    if (!content) {
      if (++empty === EMPTY_MESSAGES_MEANING_LOG_LOST) {
        try {
          onLogLost();
        } catch {
          // as for onMessage
        }
      }
      if (pause === undefined && !done) {
        call.pause();
        pause = setTimeout(() => {
          pause = undefined;
          call.resume();
        }, EMPTY_MESSAGE_PAUSE_MS);
      }
    }
    try {
      onMessage(response);
    } catch {
      // a failing progress consumer must not break the build
    }
  });
  return {
    async settle(graceMs = STATUS_GRACE_MS, capMs = STATUS_DRAIN_CAP_MS) {
      if (done) return;
      let cap: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        silence = setTimeout(resolve, graceMs);
        cap = setTimeout(resolve, Math.max(graceMs, capMs));
      });
      await Promise.race([ended, timeout]);
      clearTimeout(silence);
      clearTimeout(cap);
      silence = undefined;
      if (!done) call.cancel();
      await ended;
    },
    cancel() {
      if (!done) call.cancel();
    },
  };
}

/** Engine 20.10 also streams empty messages while a step floods its log; they are no sign of progress. */
function hasContent(response: StatusResponse__Output): boolean {
  return (
    (response.vertexes?.length ?? 0) + (response.statuses?.length ?? 0) + (response.logs?.length ?? 0) + (response.warnings?.length ?? 0) > 0
  );
}
