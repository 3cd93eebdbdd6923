import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { SessionService } from "../../../src/buildkit/session/service.js";

export interface ServedService {
  /** `unix:///…` address of a real grpc-js server serving the service. */
  address: string;
  close(): Promise<void>;
}

/** Serves one session service on a real grpc-js server bound to a unix socket in a temp dir. */
export async function serveOnUnixSocket(service: SessionService): Promise<ServedService> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-svc-"));
  const address = `unix://${join(dir, "grpc.sock")}`;
  const server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  server.addService(service.definition, service.implementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return {
    address,
    close: async () => {
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for the final status of a client call. */
export function callStatus<Req, Res>(call: grpc.ClientDuplexStream<Req, Res>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on("status", resolve);
    // The status event also fires for errors; swallow the duplicate error event.
    call.on("error", () => undefined);
  });
}
