import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import { nativeSocketPair } from "./native-socket-pair.js";
import type { SessionService } from "./service.js";
import { tunnelDuplex } from "./tunnel-duplex.js";

export const SESSION_METADATA = {
  uuid: "x-docker-expose-session-uuid",
  sharedKey: "x-docker-expose-session-sharedkey",
  name: "x-docker-expose-session-name",
  method: "x-docker-expose-session-grpc-method",
} as const;

export interface SessionOptions {
  /** Session id; must be unique among live sessions. Default: random. */
  id?: string;
  /** Transfer-cache key for local dirs (docs/buildkit-wire.md#transfer-cache). Default: random, i.e. no reuse between builds. */
  sharedKey?: string;
  name?: string;
  /**
   * Carry the session's inner HTTP/2 connection over a native socket pair (see native-socket-pair.ts) instead of
   * a JavaScript Duplex: worth its few milliseconds of setup for sessions that move many messages (FileSync).
   * Falls back to the Duplex when no pair can be made.
   */
  nativeTransport?: boolean;
}

/** An open `Control.Session`: the daemon calls `services` through it while a solve naming `id` runs. */
export interface Session {
  readonly id: string;
  /** Every advertised method path, in order. */
  readonly methods: readonly string[];
  /** Half-closes the call and tears down the tunnelled server. Safe to call more than once. */
  close(): Promise<void>;
}

/** The Control.Session metadata: uuid, sharedkey, name and one grpc-method entry per served method (docs/buildkit-wire.md#session-headers). */
export function sessionMetadata(id: string, sharedKey: string, name: string, methods: readonly string[]): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(SESSION_METADATA.uuid, id);
  metadata.set(SESSION_METADATA.sharedKey, sharedKey);
  metadata.set(SESSION_METADATA.name, name);
  for (const method of methods) metadata.add(SESSION_METADATA.method, method);
  return metadata;
}

/**
 * Opens the session tunnel before a solve (docs/buildkit-wire.md#session-in-node): the services are registered on a grpc-js server that
 * never listens; the `Control.Session` byte stream is injected into it as its only connection.
 */
export function openSession(control: ControlClient, services: readonly SessionService[], options: SessionOptions = {}): Session {
  const id = options.id ?? randomBytes(16).toString("hex");
  const sharedKey = options.sharedKey ?? randomBytes(16).toString("hex");
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
  const methods: string[] = [];
  for (const service of services) {
    server.addService(service.definition, service.implementation);
    for (const method of service.methods) if (!methods.includes(method)) methods.push(method);
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const call = control.Session(sessionMetadata(id, sharedKey, options.name ?? "buildkit-bot", methods));
  const duplex = tunnelDuplex(call);
  // A session that dies under a running solve makes that solve fail with the daemon's message; nothing to add here.
  duplex.on("error", () => {});
  let pair: { server: Socket; client: Socket } | undefined;
  let closing = false;
  if (options.nativeTransport) {
    // Until the pair is connected, what the daemon sends waits in the Duplex's buffer.
    void nativeSocketPair().then(
      (made) => {
        if (closing) {
          made.server.destroy();
          made.client.destroy();
          return;
        }
        pair = made;
        made.server.on("error", () => {});
        injector.injectConnection(made.server);
        made.client.pipe(duplex);
        duplex.pipe(made.client);
      },
      () => {
        if (!closing) injector.injectConnection(duplex);
      },
    );
  } else {
    injector.injectConnection(duplex);
  }

  let closed: Promise<void> | undefined;
  return {
    id,
    methods,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        call.end();
        injector.destroy();
        pair?.client.destroy();
        pair?.server.destroy();
        duplex.destroy();
        server.forceShutdown();
        setImmediate(resolve);
      });
      return closed;
    },
  };
}
