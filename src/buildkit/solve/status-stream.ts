import type * as grpc from "@grpc/grpc-js";
import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import type { StatusResponse__Output } from "../generated/moby/buildkit/v1/StatusResponse.js";

/** How long the Status stream may stay open after Solve returned; Engine 20.10 can leave it open (WIRE.md §1.4). */
export const STATUS_GRACE_MS = 1500;

export interface StatusStream {
  /** Resolves when the stream ended by itself or was cancelled, `graceMs` after being called at the latest. */
  settle(graceMs?: number): Promise<void>;
  cancel(): void;
}

/**
 * Follows `Control.Status` for one build ref, handing every message to `onMessage`. Stream errors are not build
 * failures (the Solve result is authoritative), so they only end the stream.
 */
export function followStatus(control: ControlClient, ref: string, onMessage: (response: StatusResponse__Output) => void): StatusStream {
  const call: grpc.ClientReadableStream<StatusResponse__Output> = control.Status({ Ref: ref });
  let done = false;
  const ended = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      resolve();
    };
    call.on("end", finish);
    call.on("error", finish);
    call.on("close", finish);
  });
  call.on("data", (response: StatusResponse__Output) => {
    try {
      onMessage(response);
    } catch {
      // a failing progress consumer must not break the build
    }
  });
  return {
    async settle(graceMs = STATUS_GRACE_MS) {
      if (done) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([ended, timeout]);
      clearTimeout(timer);
      if (!done) call.cancel();
      await ended;
    },
    cancel() {
      if (!done) call.cancel();
    },
  };
}
