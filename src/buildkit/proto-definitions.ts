import { createRequire } from "node:module";
import type * as protoLoader from "@grpc/proto-loader";
import type * as Protobuf from "protobufjs";
import { LAYOUT, messageCoders } from "./generated/coders.js";
import type { MethodLayout, StaticMessage } from "./generated/coders.js";
import { DESCRIPTORS_JSON } from "./generated/descriptors.js";

/**
 * proto-loader's `fromJSON`, minus its start-up cost: the same package definition (paths, serializers with the
 * same options, originalName, method options), built from what `npm run proto:gen` compiled ahead
 * (scripts/proto-coders.mjs → generated/coders.ts): each message's coders are the functions protobufjs generates
 * for it at run time, as compiled code over protobufjs's minimal runtime, so start-up loads no reflection and
 * generates no code. Each message's and enum's descriptor (`type`, `fileDescriptorProtos`, which only reflection
 * reads and grpc-js never does) is built on first read, from the reflected descriptors. protobufjs is taken from
 * proto-loader's own dependencies, so the library still depends on gRPC packages only.
 */

const requireFromLoader = createRequire(createRequire(import.meta.url).resolve("@grpc/proto-loader"));
type ProtobufLight = Pick<typeof Protobuf, "Root" | "Type" | "Enum" | "Writer" | "Reader" | "util">;
type DescribedType = (Protobuf.Type | Protobuf.Enum) & { toDescriptor(syntax: string): DescriptorMessage };
interface DescriptorMessage {
  $type: { toObject(message: DescriptorMessage, options: object): object };
}

/** The options proto-loader renders descriptors with (its `descriptorOptions`). */
const DESCRIPTOR_OPTIONS = { longs: String, enums: String, bytes: String, defaults: true, oneofs: true, json: true };

let reflection: Protobuf.Root | undefined;
let fileDescriptors: Buffer[] | undefined;

/** protobufjs's reflection of every .proto (generated/descriptors.ts), for the few reads that need it. */
function reflected(): Protobuf.Root {
  if (!reflection) {
    const protobuf = requireFromLoader("protobufjs/light") as ProtobufLight;
    reflection = protobuf.Root.fromJSON(JSON.parse(DESCRIPTORS_JSON) as Protobuf.INamespace);
    reflection.resolveAll();
  }
  return reflection;
}

function descriptors(): Buffer[] {
  if (!fileDescriptors) {
    const root = reflected();
    const ext = requireFromLoader("protobufjs/ext/descriptor") as {
      FileDescriptorProto: { encode(message: unknown): { finish(): Uint8Array } };
    };
    const files = (root as unknown as { toDescriptor(syntax: string): { file: unknown[] } }).toDescriptor("proto3").file;
    fileDescriptors = files.map((file) => Buffer.from(ext.FileDescriptorProto.encode(file).finish()));
  }
  return fileDescriptors;
}

export function packageDefinition(options: protoLoader.Options): protoLoader.PackageDefinition {
  const { Writer, Reader, util } = requireFromLoader("protobufjs/minimal") as ProtobufLight;
  const coders = messageCoders({ Writer, Reader, util }, (name) => reflected().lookupType(name) as unknown as StaticMessage);
  const coder = (name: string): StaticMessage => {
    const found = coders.get(name);
    if (!found) throw new Error(`no coders for ${name} in generated/coders.ts; run npm run proto:gen`);
    return found;
  };
  const typeDefinition = (name: string, isMessage: boolean): object => {
    let type: object | undefined;
    const definition: Record<string, unknown> = {
      format: isMessage ? "Protocol Buffer 3 DescriptorProto" : "Protocol Buffer 3 EnumDescriptorProto",
    };
    Object.defineProperties(definition, {
      type: {
        enumerable: true,
        get: () => {
          if (!type) {
            descriptors(); // loads the descriptor extension, which adds toDescriptor
            const descriptor = (reflected().lookup(name) as DescribedType).toDescriptor("proto3");
            type = descriptor.$type.toObject(descriptor, DESCRIPTOR_OPTIONS);
          }
          return type;
        },
      },
      fileDescriptorProtos: { enumerable: true, get: descriptors },
    });
    if (isMessage) {
      definition.serialize = serializer(coder(name));
      definition.deserialize = deserializer(coder(name), options);
    }
    return definition;
  };
  const serviceDefinition = (methods: MethodLayout[]): protoLoader.ServiceDefinition => {
    const def: Record<string, protoLoader.MethodDefinition<object, object>> = {};
    for (const method of methods) {
      const request = coder(method.requestType);
      const response = coder(method.responseType);
      def[method.name] = {
        path: method.path,
        requestStream: method.requestStream,
        responseStream: method.responseStream,
        requestSerialize: serializer(request),
        requestDeserialize: deserializer(request, options),
        responseSerialize: serializer(response),
        responseDeserialize: deserializer(response, options),
        originalName: method.originalName,
        requestType: typeDefinition(method.requestType, true) as protoLoader.MessageTypeDefinition<object, object>,
        responseType: typeDefinition(method.responseType, true) as protoLoader.MessageTypeDefinition<object, object>,
        options: method.options as protoLoader.MethodDefinition<object, object>["options"],
      };
    }
    return def;
  };

  const def: protoLoader.PackageDefinition = {};
  for (const entry of LAYOUT) {
    if (entry[0] === "service") def[entry[1]] = serviceDefinition(entry[2]);
    else def[entry[1]] = typeDefinition(entry[1], entry[0] === "message") as protoLoader.MessageTypeDefinition<object, object>;
  }
  return def;
}

function serializer(type: StaticMessage): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name.slice(type.name.lastIndexOf(".") + 1)} structure, got array instead`);
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: StaticMessage, options: protoLoader.Options): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), options);
}
