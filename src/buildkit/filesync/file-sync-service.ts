import { closeSync, createReadStream, fstatSync, openSync, readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { InvalidRequestError } from "../errors.js";
import type { Packet, Packet__Output } from "../generated/fsutil/types/Packet.js";
import type { FileSyncHandlers } from "../generated/moby/filesync/v1/FileSync.js";
import { protos } from "../proto.js";
import type { SessionService } from "../session/service.js";
import { methodPaths } from "../session/service.js";
import { BackpressureWriter } from "./backpressure-writer.js";
import { walkContext } from "./context-walker.js";
import { readDiffCopyMetadata } from "./diff-copy-metadata.js";
import { cleanPath } from "./pattern-matcher.js";

/** DATA chunk size of the official sender. */
export const FILE_CHUNK_BYTES = 32 * 1024;
/** Files streamed at the same time for one DiffCopy call (fsutil's sender uses 4 workers). */
const CONCURRENT_FILES = 4;
/** STAT packets queued before the listing waits for the call to drain: at most a few hundred KB of stats. */
const LISTING_BACKLOG = 1024;
/**
 * Files up to this size are read whole, synchronously, and queued at once: a read stream costs an open, a read and
 * a close, each an event-loop turn, which for a context of many small files was most of a cold transfer.
 */
const SMALL_FILE_BYTES = 64 * 1024;
/** DATA packets of small files queued before waiting for the call to drain: at most 2 MB. */
const SMALL_FILE_BACKLOG = 64;

export interface FileSyncOptions {
  /**
   * Path of the Dockerfile inside the `dockerfile` dir. When set, that dir only ever exposes this file and its
   * `<name>.dockerignore`, so pointing `dockerfile` at a broad directory never sends anything else from it.
   */
  dockerfileName?: string;
}

type DiffCopyCall = grpc.ServerDuplexStream<Packet__Output, Packet>;

/**
 * `moby.filesync.v1.FileSync/DiffCopy` serving two local directories under the names the Dockerfile frontend asks
 * for, `context` and `dockerfile` (docs/buildkit-wire.md#filesync). The client is the fsutil sender: it lists the tree, then streams
 * the files the daemon requests.
 */
export function fileSyncService(dirs: { context: string; dockerfile: string }, options: FileSyncOptions = {}): SessionService {
  const definition = protos().filesync.moby.filesync.v1.FileSync.service;
  const dockerfileName = options.dockerfileName === undefined ? undefined : cleanPath(options.dockerfileName);
  const implementation: FileSyncHandlers = {
    DiffCopy: (call) => {
      const request = readDiffCopyMetadata(call.metadata);
      let root: string;
      let allowOnly: string[] | undefined;
      if (request.dirName === "context") root = dirs.context;
      else if (request.dirName === "dockerfile") {
        root = dirs.dockerfile;
        if (dockerfileName !== undefined) allowOnly = [dockerfileName, `${dockerfileName}.dockerignore`];
      } else {
        call.emit("error", { code: grpc.status.NOT_FOUND, details: `no access allowed to dir ${JSON.stringify(request.dirName)}` });
        return;
      }
      sendDirectory(call, root, {
        excludePatterns: request.excludePatterns,
        includePatterns: request.includePatterns,
        followPaths: request.followPaths,
        allowOnly,
      });
    },
  };
  return { definition, implementation, methods: methodPaths(definition) };
}

interface SendableFile {
  absolutePath: string;
  path: string;
  /** From the listing; the daemon checks what arrives against it. */
  size: number;
}

/** The whole file, or undefined when it has grown past the small-file size since it was listed. */
function readSmallFile(file: SendableFile): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file.absolutePath, "r");
    if (fstatSync(fd).size > SMALL_FILE_BYTES) return undefined;
    return readFileSync(fd);
  } catch (error) {
    throw readFailure(file, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readFailure(file: SendableFile, error: unknown): Error {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new Error(`failed to read ${file.path}: ${reason}`, { cause: error });
}

function sendDirectory(
  call: DiffCopyCall,
  root: string,
  walk: { excludePatterns: string[]; includePatterns: string[]; followPaths: string[]; allowOnly?: string[] },
): void {
  const abort = new AbortController();
  const writer = new BackpressureWriter<Packet>(call, abort.signal);
  // Index = entry index of the STAT packet; only regular files are requestable.
  const files: Array<SendableFile | undefined> = [];
  const queue: number[] = [];
  let active = 0;
  let done = false;

  const finish = (error?: { code: grpc.status; details: string }): void => {
    if (done) return;
    done = true;
    abort.abort();
    if (error) call.emit("error", error);
    else call.end();
  };
  const failWith = (error: unknown): void => {
    if (done) return;
    const details = error instanceof Error ? error.message : String(error);
    writer.writeNow({ type: "PACKET_ERR", data: Buffer.from(details) });
    const code = error instanceof InvalidRequestError ? grpc.status.INVALID_ARGUMENT : grpc.status.UNKNOWN;
    finish({ code, details });
  };

  const pump = (): void => {
    while (!done && active < CONCURRENT_FILES && queue.length > 0) {
      const id = queue.shift() as number;
      active++;
      sendFile(id).then(
        () => {
          active--;
          pump();
        },
        (error: unknown) => {
          if (!abort.signal.aborted) failWith(error);
        },
      );
    }
  };

  const sendFile = async (id: number): Promise<void> => {
    const file = files[id] as SendableFile;
    if (file.size <= SMALL_FILE_BYTES) {
      const data = readSmallFile(file);
      if (data) return sendSmallFile(id, data);
    }
    const stream = createReadStream(file.absolutePath, { highWaterMark: FILE_CHUNK_BYTES });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        await writer.write({ type: "PACKET_DATA", ID: id, data: chunk });
      }
    } catch (error) {
      if (abort.signal.aborted) throw error;
      throw readFailure(file, error);
    } finally {
      stream.destroy();
    }
    await writer.write({ type: "PACKET_DATA", ID: id });
  };

  const sendSmallFile = async (id: number, data: Buffer): Promise<void> => {
    for (let offset = 0; offset < data.length; offset += FILE_CHUNK_BYTES) {
      await writer.writeSmall({ type: "PACKET_DATA", ID: id, data: data.subarray(offset, offset + FILE_CHUNK_BYTES) }, SMALL_FILE_BACKLOG);
    }
    await writer.writeSmall({ type: "PACKET_DATA", ID: id }, SMALL_FILE_BACKLOG);
  };

  call.on("data", (packet: Packet__Output) => {
    if (done) return;
    switch (packet.type) {
      case "PACKET_REQ": {
        if (files[packet.ID] === undefined) {
          failWith(new InvalidRequestError(`invalid file request ${packet.ID}`));
          return;
        }
        queue.push(packet.ID);
        pump();
        return;
      }
      case "PACKET_FIN":
        writer.writeNow({ type: "PACKET_FIN" });
        finish();
        return;
      case "PACKET_ERR":
        finish({ code: grpc.status.UNKNOWN, details: `error from receiver: ${packet.data.toString("utf8")}` });
        return;
      default:
        return;
    }
  });
  call.on("end", () => finish({ code: grpc.status.UNKNOWN, details: "receiver closed the stream before FIN" }));
  call.on("cancelled", () => {
    done = true;
    abort.abort();
  });

  void (async () => {
    for await (const entry of walkContext(root, { ...walk, signal: abort.signal })) {
      files.push(entry.kind === "file" ? { absolutePath: entry.absolutePath, path: entry.path, size: Number(entry.stat.size ?? 0) } : undefined);
      await writer.writeSmall({ type: "PACKET_STAT", stat: entry.stat }, LISTING_BACKLOG);
    }
    // End of listing: a STAT packet without any `stat` (an empty object would be an entry with path "").
    await writer.write({ type: "PACKET_STAT" });
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) failWith(error);
  });
}
