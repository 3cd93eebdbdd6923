import type { HealthHandlers } from "../generated/grpc/health/v1/Health.js";
import { protos } from "../proto.js";
import type { SessionService } from "./service.js";
import { methodPaths } from "./service.js";

/** `grpc.health.v1.Health/Check` answering SERVING: the daemon closes the session when this errors (docs/buildkit-wire.md#session-health). */
export function healthService(): SessionService {
  const definition = protos().health.grpc.health.v1.Health.service;
  const implementation: HealthHandlers = {
    Check: (_call, callback) => callback(null, { status: "SERVING" }),
  };
  return { definition, implementation, methods: methodPaths(definition) };
}
