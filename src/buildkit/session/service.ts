import type * as grpc from "@grpc/grpc-js";

/**
 * One service the client serves to the daemon inside a session (Secrets, Auth, Health, FileSync, FileSend…).
 * The session registers `definition` + `implementation` on its tunnelled gRPC server and advertises every
 * full method path in `methods` through `x-docker-expose-session-grpc-method` (docs/buildkit-wire.md#session-headers).
 */
export interface SessionService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Full gRPC paths, e.g. `/moby.buildkit.secrets.v1.Secrets/GetSecret`. */
  methods: string[];
}

/** The advertised method paths of a service definition. */
export function methodPaths(definition: grpc.ServiceDefinition): string[] {
  return Object.values(definition).map((m) => m.path);
}
