import * as grpc from "@grpc/grpc-js";
import type { Socket } from "node:net";
import { engineMessage } from "../engine/engine-http.js";

/** An Engine answers the upgrade at once; a socket that says nothing for this long is not an Engine API socket. */
const UPGRADE_TIMEOUT_MS = 10_000;
/** The answer's header block, or a refusal's body, is never longer than this. */
const MAX_ANSWER_BYTES = 64 * 1024;

const UPGRADE_REQUEST = [
  "POST /grpc HTTP/1.1",
  // The Engine ignores the host of requests on its socket, as Docker's own clients send.
  "Host: docker",
  "Connection: Upgrade",
  "Upgrade: h2c",
  "Content-Length: 0",
  "",
  "",
].join("\r\n");

/**
 * Channel credentials for the Docker Engine's `/grpc` endpoint (docs/buildkit-wire.md#engine-grpc-upgrade): grpc-js dials the Engine's API socket
 * itself, and each connection is turned into BuildKit's HTTP/2 by one `POST /grpc` + `Upgrade: h2c` before grpc-js
 * speaks on it. No relay in between: every gRPC byte goes straight from the Engine's socket to grpc-js.
 *
 * grpc-js has no public hook for a handshake before HTTP/2; `_createSecureConnector` is the one it calls on each new
 * connection (the same hook its TLS credentials use), declared abstract in its typings.
 */
export class EngineUpgradeCredentials extends grpc.ChannelCredentials {
  /** Why the last upgrade failed (the Engine's answer, or the socket's error), if one did. */
  lastError: Error | undefined;

  override _isSecure(): boolean {
    return false;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override compose(): grpc.ChannelCredentials {
    throw new Error("per-call credentials cannot be added to a Docker Engine channel");
  }

  override _createSecureConnector(): ReturnType<grpc.ChannelCredentials["_createSecureConnector"]> {
    const callCredentials = grpc.CallCredentials.createEmpty();
    return {
      connect: async (socket: Socket) => {
        try {
          await upgradeToGrpc(socket, UPGRADE_TIMEOUT_MS);
          return { socket, secure: false };
        } catch (err) {
          this.lastError = err as Error;
          throw err;
        }
      },
      waitForReady: async () => {},
      getCallCredentials: () => callCredentials,
      destroy: () => {},
    };
  }
}

/**
 * Sends the upgrade request on `socket` and reads the answer's header block. On `101` the socket is left paused
 * with whatever followed the headers (the Engine's first HTTP/2 frames often come in the same read) put back in
 * front; anything else rejects with the Engine's message.
 */
export function upgradeToGrpc(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    let refusal: { status: number; bodyStart: number; length: number | undefined } | undefined;
    const timer = setTimeout(() => finish(new Error(`Docker Engine did not answer POST /grpc within ${timeoutMs} ms`)), timeoutMs);
    const finish = (outcome?: Error): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
      socket.pause();
      if (outcome) reject(outcome);
      else resolve();
    };
    const refused = (): Error => {
      const body = refusal ? received.subarray(refusal.bodyStart) : Buffer.alloc(0);
      return new Error(`Docker Engine refused POST /grpc (${refusal?.status}): ${engineMessage(body).slice(0, 500) || "(empty answer)"}`);
    };
    /** A refusal's body is read to its Content-Length (or the cap; without a length, to the end of the connection). */
    const refusalRead = (): boolean =>
      refusal !== undefined &&
      ((refusal.length !== undefined && received.length - refusal.bodyStart >= refusal.length) || received.length > MAX_ANSWER_BYTES);
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (refusal) {
        if (refusalRead()) finish(refused());
        return;
      }
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) {
        if (received.length > MAX_ANSWER_BYTES) finish(new Error("Docker Engine answered POST /grpc with an oversized header"));
        return;
      }
      const head = received.subarray(0, end).toString("latin1");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
      if (status === 101) {
        const rest = received.subarray(end + 4);
        finish();
        if (rest.length > 0) socket.unshift(rest);
        return;
      }
      if (Number.isNaN(status)) {
        finish(new Error(`Docker Engine answered POST /grpc with something other than HTTP: ${JSON.stringify(head.slice(0, 80))}`));
        return;
      }
      const length = /^content-length:\s*(\d+)\s*$/im.exec(head)?.[1];
      refusal = { status, bodyStart: end + 4, length: length === undefined ? undefined : Number(length) };
      if (refusalRead()) finish(refused());
    };
    const onError = (err: Error): void => finish(err);
    const onEnd = (): void =>
      finish(refusal ? refused() : new Error("Docker Engine closed the connection before answering POST /grpc"));
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("end", onEnd);
    socket.write(UPGRADE_REQUEST);
  });
}
