import { once } from "node:events";
import type { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import type { ContentDefinition, ContentHandlers } from "../generated/containerd/services/content/v1/Content.js";
import type { WriteContentRequest__Output } from "../generated/containerd/services/content/v1/WriteContentRequest.js";
import type { WriteContentResponse } from "../generated/containerd/services/content/v1/WriteContentResponse.js";
import type { Timestamp } from "../generated/google/protobuf/Timestamp.js";
import { protos } from "../proto.js";
import { ContentStoreError } from "./oci-layout-store.js";
import type { BlobWriter, ContentStoreErrorKind, OciLayoutStore } from "./oci-layout-store.js";
import type { SessionService } from "./service.js";
import { methodPaths } from "./service.js";

/** The request header naming the store a call is for (`local:<dir>`); BuildKit's session/content sets it. */
export const STORE_ID_HEADER = "buildkit-attachable-store-id";

/** The store id the daemon's `local` cache importer/exporter asks for: `local:` + the `src`/`dest` attr as sent. */
export function localCacheStoreId(dir: string): string {
  return `local:${dir}`;
}

/** Read chunks: far below the daemon's message size limit, large enough to keep a layer's transfer cheap. */
const READ_CHUNK_BYTES = 1024 * 1024;

function contentDefinition(): ContentDefinition {
  return protos().content.containerd.services.content.v1.Content.service;
}

const CODES: Record<ContentStoreErrorKind, grpc.status> = {
  "invalid-argument": grpc.status.INVALID_ARGUMENT,
  "not-found": grpc.status.NOT_FOUND,
  "already-exists": grpc.status.ALREADY_EXISTS,
  locked: grpc.status.UNAVAILABLE,
  "failed-precondition": grpc.status.FAILED_PRECONDITION,
  "out-of-range": grpc.status.OUT_OF_RANGE,
};

function toStatus(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof ContentStoreError) return { code: CODES[error.kind], details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

function timestamp(date: Date): Timestamp {
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * containerd's `Content` service over the client's OCI layouts, served in the build's session so the daemon can
 * import (Info, Read) and export (Write, Status, Abort) a `type=local` cache (session/content in BuildKit). Each
 * call names its store through the `buildkit-attachable-store-id` header; unknown stores are NOT_FOUND. Blobs are
 * streamed both ways in chunks; nothing holds a whole layer in memory.
 */
export function contentStoreService(stores: ReadonlyMap<string, OciLayoutStore>): SessionService {
  const choose = (metadata: grpc.Metadata): OciLayoutStore => {
    const [id] = metadata.get(STORE_ID_HEADER);
    if (id === undefined) throw new ContentStoreError("invalid-argument", `request lacks the ${STORE_ID_HEADER} header`);
    const store = stores.get(String(id));
    if (!store) throw new ContentStoreError("not-found", `unknown store ${String(id)}`);
    return store;
  };

  const implementation: ContentHandlers = {
    Info: (call, callback) => {
      void (async () => {
        const info = await choose(call.metadata).info(call.request.digest);
        if (!info) throw new ContentStoreError("not-found", `content ${call.request.digest} not found`);
        return { info: { digest: info.digest, size: String(info.size), created_at: timestamp(info.createdAt), updated_at: timestamp(info.updatedAt), labels: {} } };
      })().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },

    Read: (call) => {
      void (async () => {
        const { offset, size, digest } = call.request;
        const { stream } = await choose(call.metadata).reader(digest, Number(offset), Number(size), READ_CHUNK_BYTES);
        if (stream) {
          call.on("cancelled", () => stream.destroy());
          let at = Math.max(0, Number(offset));
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (call.cancelled) break;
            if (!call.write({ offset: String(at), data: chunk })) await once(call, "drain");
            at += chunk.length;
          }
        }
        call.end();
      })().catch((error: unknown) => call.emit("error", toStatus(error)));
    },

    Status: (call, callback) => {
      void (async () => {
        const writer = choose(call.metadata).activeWriter(call.request.ref);
        if (!writer) throw new ContentStoreError("not-found", `no write in progress for ref ${call.request.ref}`);
        return {
          status: {
            ref: writer.ref,
            offset: String(writer.offset),
            total: "0",
            expected: "",
            started_at: timestamp(writer.startedAt),
            updated_at: timestamp(writer.updatedAt),
          },
        };
      })().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },

    Write: (call) => {
      void serveWrite(call, choose).catch((error: unknown) => call.emit("error", toStatus(error)));
    },

    Abort: (call, callback) => {
      void (async () => {
        const writer = choose(call.metadata).activeWriter(call.request.ref);
        if (!writer) throw new ContentStoreError("not-found", `no write in progress for ref ${call.request.ref}`);
        await writer.abort();
        return {};
      })().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },
  };

  const service = contentDefinition();
  return { definition: service, implementation, methods: methodPaths(service) };
}

/**
 * One `Write` stream, following containerd's content server: the first message names the ref (and usually the
 * expected digest and size); STAT reports progress, WRITE appends at the current offset, COMMIT verifies size and
 * digest and moves the blob into place. Each request gets one response; the stream ends after COMMIT. A blob that
 * already exists is ALREADY_EXISTS, which the daemon treats as done. A stream that ends uncommitted drops its data.
 */
async function serveWrite(
  call: grpc.ServerDuplexStream<WriteContentRequest__Output, WriteContentResponse>,
  choose: (metadata: grpc.Metadata) => OciLayoutStore,
): Promise<void> {
  const store = choose(call.metadata);
  let writer: BlobWriter | undefined;
  let committed = false;
  const cancelled = (): void => void writer?.abort();
  call.on("cancelled", cancelled);
  const next = messageReader<WriteContentRequest__Output>(call);
  try {
    let total = 0;
    let expected = "";
    for (let request = await next(); request !== undefined; request = await next()) {
      if (!writer) {
        if (request.ref === "") throw new ContentStoreError("invalid-argument", "first message must have a reference");
        total = Number(request.total);
        expected = request.expected;
        writer = await store.writer(request.ref, expected || undefined);
      }
      const response: WriteContentResponse = { action: request.action, offset: String(writer.offset) };
      if (request.expected !== "") {
        expected = request.expected;
        if (await store.info(expected)) throw new ContentStoreError("already-exists", `blob with expected digest ${expected} exists`);
      }
      if (Number(request.total) > 0) total = Number(request.total);

      if (request.action === "STAT") {
        response.digest = writer.digest();
        response.started_at = timestamp(writer.startedAt);
        response.updated_at = timestamp(writer.updatedAt);
        response.total = String(total);
      } else {
        const offset = Number(request.offset);
        if (offset > 0 && offset !== writer.offset) {
          throw new ContentStoreError("out-of-range", `write @${offset} must occur at current offset ${writer.offset}`);
        }
        if (offset === 0 && writer.offset > 0) await writer.restart();
        if (request.data.length > 0) await writer.write(request.data);
        response.offset = String(writer.offset);
        if (request.action === "COMMIT") {
          await writer.commit(total, expected || undefined);
          committed = true;
        }
        response.digest = writer.digest();
      }
      if (!call.write(response)) await once(call, "drain");
      if (committed) break;
    }
    call.end();
  } finally {
    call.off("cancelled", cancelled);
    if (writer && !committed) await writer.abort();
  }
}

/**
 * Reads a call's messages one at a time. Unlike `for await`, leaving early does not destroy the call, which would
 * keep its status (an error such as ALREADY_EXISTS, or OK) from ever reaching the daemon.
 */
function messageReader<T>(stream: Readable): () => Promise<T | undefined> {
  return () =>
    new Promise<T | undefined>((resolve) => {
      const cleanup = (): void => {
        stream.off("readable", attempt);
        stream.off("end", ended);
        stream.off("close", ended);
        stream.off("cancelled", ended);
      };
      const ended = (): void => {
        cleanup();
        resolve(undefined);
      };
      function attempt(): void {
        const value = stream.read() as T | null;
        if (value !== null) {
          cleanup();
          resolve(value);
        } else if (stream.readableEnded || stream.destroyed) {
          ended();
        }
      }
      stream.on("readable", attempt);
      stream.on("end", ended);
      stream.on("close", ended);
      stream.on("cancelled", ended);
      attempt();
    });
}
