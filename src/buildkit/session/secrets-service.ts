import * as grpc from "@grpc/grpc-js";
import { InvalidRequestError } from "../errors.js";
import type { SecretsHandlers } from "../generated/moby/buildkit/secrets/v1/Secrets.js";
import { protos } from "../proto.js";
import type { SessionService } from "./service.js";
import { methodPaths } from "./service.js";

/** Same cap as BuildKit's own secret provider; also keeps every session response far below 4 MiB (docs/buildkit-wire.md#message-size). */
export const MAX_SECRET_BYTES = 500 * 1024;

/**
 * `moby.buildkit.secrets.v1.Secrets/GetSecret` serving exactly the given ids; any other id is NOT_FOUND, which the
 * daemon treats as "no such secret" (docs/buildkit-wire.md#secrets, #git-auth). Values are copied at construction.
 */
export function secretsService(secrets: ReadonlyMap<string, string | Buffer>): SessionService {
  const values = new Map<string, Buffer>();
  for (const [id, value] of secrets) {
    const bytes = Buffer.isBuffer(value) ? Buffer.from(value) : Buffer.from(value, "utf8");
    if (bytes.length > MAX_SECRET_BYTES) {
      throw new InvalidRequestError(`secret "${id}" is ${bytes.length} bytes; at most ${MAX_SECRET_BYTES} are allowed`);
    }
    values.set(id, bytes);
  }
  const definition = protos().secrets.moby.buildkit.secrets.v1.Secrets.service;
  const implementation: SecretsHandlers = {
    GetSecret: (call, callback) => {
      const value = values.get(call.request.ID);
      if (value === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `secret ${call.request.ID} not found` });
        return;
      }
      callback(null, { data: value });
    },
  };
  return { definition, implementation, methods: methodPaths(definition) };
}
