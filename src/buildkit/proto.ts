import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import type * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as ControlProto } from "./generated/control.js";
import type { ProtoGrpcType as SecretsProto } from "./generated/secrets.js";
import type { ProtoGrpcType as AuthProto } from "./generated/auth.js";
import type { ProtoGrpcType as FileSyncProto } from "./generated/filesync.js";
import type { ProtoGrpcType as HealthProto } from "./generated/health.js";
import type { ProtoGrpcType as StatusProto } from "./generated/google_rpc_status.js";
import type { ProtoGrpcType as ContentProto } from "./generated/content.js";
import { packageDefinition } from "./proto-definitions.js";

/** Where our own trimmed .proto files live in a checkout (`scripts/proto-descriptors.mjs` compiles them). */
export const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));

/** Exactly the options the TypeScript types are generated with (package.json `proto:gen`). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface Protos {
  control: ControlProto;
  secrets: SecretsProto;
  auth: AuthProto;
  filesync: FileSyncProto;
  health: HealthProto;
  status: StatusProto;
  content: ContentProto;
}

let definition: protoLoader.PackageDefinition | undefined;
let cache: Protos | undefined;

function allDefinitions(): protoLoader.PackageDefinition {
  // Every .proto resolved and its coders compiled at `npm run proto:gen` time: start-up parses no .proto text,
  // generates no code and builds no descriptors until something reads one (proto-definitions.ts).
  definition ??= packageDefinition(LOADER_OPTIONS);
  return definition;
}

/**
 * Every proto's gRPC object, loaded once per process. One package definition holds all files, so each field is
 * the same object typed as that file's generated `ProtoGrpcType`.
 */
export function protos(): Protos {
  if (!cache) {
    const all = grpc.loadPackageDefinition(allDefinitions());
    cache = {
      control: all as unknown as ControlProto,
      secrets: all as unknown as SecretsProto,
      auth: all as unknown as AuthProto,
      filesync: all as unknown as FileSyncProto,
      health: all as unknown as HealthProto,
      status: all as unknown as StatusProto,
      content: all as unknown as ContentProto,
    };
  }
  return cache;
}

