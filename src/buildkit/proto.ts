import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as ControlProto } from "./generated/control.js";
import type { ProtoGrpcType as SecretsProto } from "./generated/secrets.js";
import type { ProtoGrpcType as AuthProto } from "./generated/auth.js";
import type { ProtoGrpcType as FileSyncProto } from "./generated/filesync.js";
import type { ProtoGrpcType as HealthProto } from "./generated/health.js";
import type { ProtoGrpcType as StatusProto } from "./generated/google_rpc_status.js";

/** Where our own trimmed .proto files live: `<package root>/proto`, the same depth from src/ and dist/. */
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

function load<T>(file: string): T {
  const definition = protoLoader.loadSync(file, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(definition) as unknown as T;
}

let cache: Protos | undefined;

export interface Protos {
  control: ControlProto;
  secrets: SecretsProto;
  auth: AuthProto;
  filesync: FileSyncProto;
  health: HealthProto;
  status: StatusProto;
}

/** Loads every proto once per process. */
export function protos(): Protos {
  cache ??= {
    control: load<ControlProto>("control.proto"),
    secrets: load<SecretsProto>("secrets.proto"),
    auth: load<AuthProto>("auth.proto"),
    filesync: load<FileSyncProto>("filesync.proto"),
    health: load<HealthProto>("health.proto"),
    status: load<StatusProto>("google_rpc_status.proto"),
  };
  return cache;
}

/** The raw package definition of one file, for message (de)serialisation outside a service call. */
export function packageDefinition(file: string): protoLoader.PackageDefinition {
  return protoLoader.loadSync(file, LOADER_OPTIONS);
}
