import type * as grpc from "@grpc/grpc-js";
import type { SessionService } from "../session/service.js";
import { receiveLocalExport } from "./local-export-receiver.js";
import { receiveTarExport } from "./tar-export-receiver.js";

export const FILE_SEND_DIFF_COPY = "/moby.filesync.v1.FileSend/DiffCopy";

export type ClientSideOutput = { type: "local"; dest: string } | { type: "tar"; dest: string };

const identity = (frame: Buffer): Buffer => frame;

/**
 * `moby.filesync.v1.FileSend/DiffCopy`, through which the daemon hands the `local` and `tar` exporters' results to
 * the client (docs/buildkit-wire.md#filesend). The frames differ per exporter (raw tar bytes in BytesMessages, or fsutil packets), so
 * the method is registered with identity serializers and each receiver decodes what it expects.
 */
export function fileSendService(output: ClientSideOutput): SessionService {
  const diffCopy: grpc.MethodDefinition<Buffer, Buffer> = {
    path: FILE_SEND_DIFF_COPY,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
  const definition: grpc.ServiceDefinition = { DiffCopy: diffCopy };
  const implementation: grpc.UntypedServiceImplementation = {
    DiffCopy: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      if (output.type === "tar") receiveTarExport(call, output.dest);
      else receiveLocalExport(call, output.dest);
    },
  };
  return { definition, implementation, methods: [FILE_SEND_DIFF_COPY] };
}
