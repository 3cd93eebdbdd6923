import * as grpc from "@grpc/grpc-js";
import type { StatusResponse__Output } from "../../src/buildkit/generated/moby/buildkit/v1/StatusResponse.js";

export interface StatusMessageCounts {
  /** Control.Status messages as grpc-js read them off the wire, before the stream's consumer saw them. */
  messages: number;
  /** Of which carried nothing (no vertex, status, log or warning). */
  empty: number;
}

/** A client interceptor counting the Status messages of every call made through it. */
export function statusMessageCounter(): { interceptor: grpc.Interceptor; counts: StatusMessageCounts } {
  const counts: StatusMessageCounts = { messages: 0, empty: 0 };
  const interceptor: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveMessage(message: StatusResponse__Output, nextMessage) {
            if (options.method_definition.path === "/moby.buildkit.v1.Control/Status") {
              counts.messages++;
              const parts = (message.vertexes?.length ?? 0) + (message.statuses?.length ?? 0) + (message.logs?.length ?? 0) + (message.warnings?.length ?? 0);
              if (parts === 0) counts.empty++;
            }
            nextMessage(message);
          },
        });
      },
    });
  return { interceptor, counts };
}
