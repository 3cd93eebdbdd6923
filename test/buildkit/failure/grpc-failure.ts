import * as grpc from "@grpc/grpc-js";
import { protos } from "../../../src/buildkit/proto.js";

export interface DetailSpec {
  /** Without the `github.com/moby/buildkit/` prefix, e.g. `errdefs.Source+json`. */
  type: string;
  json: unknown;
}

/** A google.rpc.Status trailer holding BuildKit's JSON `Any` details (docs/buildkit-wire.md#error-details). */
export function statusDetails(code: number, message: string, details: DetailSpec[]): Buffer {
  return protos().status.google.rpc.Status.serialize({
    code,
    message,
    details: details.map((d) => ({
      type_url: `github.com/moby/buildkit/${d.type}`,
      value: Buffer.from(JSON.stringify(d.json)),
    })),
  });
}

/**
 * The error grpc-js really produces for a failed call: a tiny in-process gRPC server fails `Health/Check` with
 * the given status, message and trailing metadata, and the client call's rejection is returned.
 */
export async function realGrpcError(code: grpc.status, message: string, trailer?: Buffer): Promise<grpc.ServiceError> {
  const Health = protos().health.grpc.health.v1.Health;
  const server = new grpc.Server();
  server.addService(Health.service, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      const metadata = new grpc.Metadata();
      if (trailer) metadata.set("grpc-status-details-bin", trailer);
      callback({ code, details: message, metadata });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<grpc.ServiceError>((resolve, reject) =>
      client.Check({ service: "" }, (err) => (err ? resolve(err) : reject(new Error("the call succeeded")))),
    );
  } finally {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}
