import { Duplex } from "node:stream";
import type * as grpc from "@grpc/grpc-js";
import type { BytesMessage, BytesMessage__Output } from "../generated/moby/buildkit/v1/BytesMessage.js";

/** Largest chunk written into one BytesMessage; the daemon's limit per message is 4 MiB on old versions. */
const MAX_CHUNK = 1024 * 1024;

/**
 * The bytes of a `Control.Session` call as a plain Duplex: the concatenated `data` of the messages in each direction
 * is one raw HTTP/2 connection on which the daemon is the client (docs/buildkit-wire.md#session-roles).
 */
export function tunnelDuplex(call: grpc.ClientDuplexStream<BytesMessage, BytesMessage__Output>): Duplex {
  const send = (chunk: Buffer, callback: (error?: Error | null) => void): void => {
    let ok = true;
    for (let offset = 0; offset < chunk.length; offset += MAX_CHUNK) {
      ok = call.write({ data: chunk.subarray(offset, offset + MAX_CHUNK) });
    }
    if (ok) callback();
    else call.once("drain", () => callback());
  };
  const duplex = new Duplex({
    read() {
      call.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      send(chunk, callback);
    },
    // The HTTP/2 session inside writes each flush as several buffers (frame headers, payloads) at once: one message
    // for all of them instead of one each halves the messages a directory listing costs.
    writev(chunks, callback) {
      send(chunks.length === 1 ? (chunks[0]!.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
    },
    final(callback) {
      call.end();
      callback();
    },
    destroy(err, callback) {
      call.cancel();
      callback(err);
    },
  });
  call.on("data", (message: BytesMessage__Output) => {
    if (!duplex.push(message.data)) call.pause();
  });
  call.on("end", () => duplex.push(null));
  call.on("error", (err) => duplex.destroy(err));
  return duplex;
}
