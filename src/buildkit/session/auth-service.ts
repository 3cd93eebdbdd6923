import type * as grpc from "@grpc/grpc-js";
import type { RegistryCredential } from "../build-request.js";
import type { AuthHandlers } from "../generated/moby/filesync/v1/Auth.js";
import { protos } from "../proto.js";
import type { SessionService } from "./service.js";
import { methodPaths } from "./service.js";

/**
 * `moby.filesync.v1.Auth/Credentials` only: the token-authority methods stay unregistered, so grpc-js answers them
 * UNIMPLEMENTED and the daemon fetches registry tokens itself with these credentials (docs/buildkit-wire.md#registry-auth). An unknown
 * host gets empty credentials, i.e. anonymous access.
 */
export function authService(credentials: readonly RegistryCredential[]): SessionService {
  const byHost = new Map<string, { username: string; password: string }>();
  for (const c of credentials) byHost.set(normaliseHost(c.host), { username: c.username, password: c.password });
  const full = protos().auth.moby.filesync.v1.Auth.service;
  const definition: grpc.ServiceDefinition = { Credentials: full.Credentials };
  const implementation: Pick<AuthHandlers, "Credentials"> = {
    Credentials: (call, callback) => {
      const found = byHost.get(normaliseHost(call.request.Host));
      callback(null, found ? { Username: found.username, Secret: found.password } : { Username: "", Secret: "" });
    },
  };
  return { definition, implementation, methods: methodPaths(definition) };
}

/** Docker Hub is dialled as registry-1.docker.io but usually configured as docker.io. */
function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h === "docker.io" || h === "index.docker.io" ? "registry-1.docker.io" : h;
}
