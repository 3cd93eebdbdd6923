import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ContentClient } from "../../../src/buildkit/generated/containerd/services/content/v1/Content.js";
import type { ReadContentResponse__Output } from "../../../src/buildkit/generated/containerd/services/content/v1/ReadContentResponse.js";
import type { WriteContentRequest } from "../../../src/buildkit/generated/containerd/services/content/v1/WriteContentRequest.js";
import type { WriteContentResponse__Output } from "../../../src/buildkit/generated/containerd/services/content/v1/WriteContentResponse.js";
import type { ProtoGrpcType } from "../../../src/buildkit/generated/content.js";
import { LOADER_OPTIONS } from "../../../src/buildkit/proto.js";
import { STORE_ID_HEADER, contentStoreService, localCacheStoreId } from "../../../src/buildkit/session/content-store-service.js";
import { OciLayoutStore } from "../../../src/buildkit/session/oci-layout-store.js";

// The service runs on a real grpc-js server on a unix socket and is called by a real grpc-js client the way
// BuildKit's proxy content store calls it: every call carries the store id header.
const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

let dir: string;
let layoutDir: string;
let store: OciLayoutStore;
let server: grpc.Server;
let client: ContentClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-content-svc-"));
  layoutDir = join(dir, "cache");
  store = new OciLayoutStore(layoutDir);
  const service = contentStoreService(new Map([[localCacheStoreId(layoutDir), store]]));
  server = new grpc.Server();
  server.addService(service.definition, service.implementation);
  const target = `unix://${join(dir, "s.sock")}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const proto = grpc.loadPackageDefinition(protoLoader.loadSync("content.proto", LOADER_OPTIONS)) as unknown as ProtoGrpcType;
  client = new proto.containerd.services.content.v1.Content(target, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
  }) as unknown as ContentClient;
});
after(async () => {
  client?.close();
  server?.forceShutdown();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function storeMetadata(id = localCacheStoreId(layoutDir)): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(STORE_ID_HEADER, id);
  return metadata;
}

/** One Write stream driven request by request, as BuildKit's remote writer does; resolves with the responses or the status error. */
function write(requests: WriteContentRequest[], metadata = storeMetadata()): Promise<WriteContentResponse__Output[]> {
  return new Promise((resolve, reject) => {
    const call = client.Write(metadata);
    const responses: WriteContentResponse__Output[] = [];
    let next = 0;
    const send = (): void => {
      const request = requests[next++];
      if (request) call.write(request);
      else call.end();
    };
    call.on("data", (response: WriteContentResponse__Output) => {
      responses.push(response);
      send();
    });
    call.on("error", reject);
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve(responses);
    });
    send();
  });
}

function read(digest: string, offset: number, size: number, metadata = storeMetadata()): Promise<ReadContentResponse__Output[]> {
  return new Promise((resolve, reject) => {
    const call = client.Read({ digest, offset, size }, metadata);
    const responses: ReadContentResponse__Output[] = [];
    call.on("data", (r: ReadContentResponse__Output) => responses.push(r));
    call.on("error", reject);
    call.on("end", () => resolve(responses));
  });
}

function unary<T>(method: "Info" | "Status" | "Abort", request: object, metadata = storeMetadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    (client[method] as unknown as (r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v?: T) => void) => void).call(client, request, metadata, (err, value) =>
      err ? reject(err) : resolve(value as T),
    );
  });
}

const code = (expected: grpc.status) => (error: unknown): boolean => {
  assert.equal((error as grpc.ServiceError).code, expected, String(error));
  return true;
};

describe("containerd Content service over an OCI layout", () => {
  test("a blob written over a Write stream (STAT, WRITEs, COMMIT) is stored under its digest and read back in chunks", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const digest = sha256(data);
    const requests: WriteContentRequest[] = [{ action: "STAT", ref: "layer", total: data.length, expected: digest }, { action: "STAT" }];
    const chunk = 1024 * 1024;
    for (let at = 0; at < data.length; at += chunk) requests.push({ action: "WRITE", offset: at, data: data.subarray(at, at + chunk) });
    requests.push({ action: "COMMIT", total: data.length, offset: data.length, expected: digest });
    const responses = await write(requests);
    assert.equal(responses.length, requests.length);
    assert.deepEqual(responses.slice(0, 2).map((r) => [r.action, r.offset, r.total]), [["STAT", "0", String(data.length)], ["STAT", "0", String(data.length)]]);
    assert.deepEqual(responses.slice(2, -1).map((r) => Number(r.offset)), [1, 2, 3, 3].map((n, i) => (i === 3 ? data.length : n * chunk)));
    const commit = responses.at(-1)!;
    assert.deepEqual([commit.action, Number(commit.offset), commit.digest], ["COMMIT", data.length, digest]);
    assert.deepEqual(await readFile(join(layoutDir, "blobs", "sha256", digest.slice(7))), data);

    const info = await unary<{ info: { digest: string; size: string } }>("Info", { digest });
    assert.deepEqual([info.info.digest, Number(info.info.size)], [digest, data.length]);

    const whole = await read(digest, 0, 0);
    assert.ok(whole.length >= 4, `${whole.length} chunks`);
    assert.ok(whole.every((r) => r.data.length <= 1024 * 1024));
    assert.deepEqual(Buffer.concat(whole.map((r) => r.data)), data);
    assert.deepEqual(whole.map((r) => Number(r.offset)), whole.map((_, i) => i * 1024 * 1024));
    const part = await read(digest, 5000, 70_000);
    assert.deepEqual(Buffer.concat(part.map((r) => r.data)), data.subarray(5000, 75_000));
    assert.equal(Number(part[0]?.offset), 5000);
  });

  test("an existing blob is ALREADY_EXISTS at the first message, which the daemon treats as done", async () => {
    const data = Buffer.from("already here");
    await write([{ action: "STAT", ref: "a1", expected: sha256(data) }, { action: "WRITE", data }, { action: "COMMIT", total: data.length, offset: data.length, expected: sha256(data) }]);
    await assert.rejects(write([{ action: "STAT", ref: "a2", total: data.length, expected: sha256(data) }]), code(grpc.status.ALREADY_EXISTS));
  });

  test("content that does not match its digest is FAILED_PRECONDITION and leaves nothing behind", async () => {
    const claimed = sha256(Buffer.from("announced"));
    await assert.rejects(
      write([{ action: "STAT", ref: "bad", expected: claimed }, { action: "WRITE", data: Buffer.from("tampered") }, { action: "COMMIT", total: 8, offset: 8, expected: claimed }]),
      (error: unknown) => code(grpc.status.FAILED_PRECONDITION)(error) && /unexpected commit digest/.test((error as Error).message),
    );
    await assert.rejects(unary("Info", { digest: claimed }), code(grpc.status.NOT_FOUND));
    await assert.rejects(unary("Status", { ref: "bad" }), code(grpc.status.NOT_FOUND));
    assert.deepEqual(await readdir(join(layoutDir, "ingest")), []);
  });

  test("a write at the wrong offset is OUT_OF_RANGE", async () => {
    await assert.rejects(write([{ action: "STAT", ref: "gap" }, { action: "WRITE", offset: 10, data: Buffer.from("x") }]), code(grpc.status.OUT_OF_RANGE));
  });

  test("Status reports a write in progress; Abort drops it", async () => {
    const call = client.Write(storeMetadata());
    const next = (): Promise<WriteContentResponse__Output> => new Promise((resolve) => call.once("data", resolve));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("error", () => undefined);
    call.write({ action: "STAT", ref: "slow" });
    await next();
    call.write({ action: "WRITE", data: Buffer.from("12345") });
    assert.equal((await next()).offset, "5");
    const status = await unary<{ status: { ref: string; offset: string } }>("Status", { ref: "slow" });
    assert.deepEqual([status.status.ref, status.status.offset], ["slow", "5"]);
    await unary("Abort", { ref: "slow" });
    await assert.rejects(unary("Status", { ref: "slow" }), code(grpc.status.NOT_FOUND));
    await assert.rejects(unary("Abort", { ref: "slow" }), code(grpc.status.NOT_FOUND));
    call.end();
    await ended;
    assert.deepEqual(await readdir(join(layoutDir, "ingest")), []);
  });

  test("calls without the store header, for another store, or for a missing blob are refused", async () => {
    const digest = sha256(Buffer.from("nowhere"));
    await assert.rejects(unary("Info", { digest }, new grpc.Metadata()), code(grpc.status.INVALID_ARGUMENT));
    await assert.rejects(unary("Info", { digest }, storeMetadata("local:/elsewhere")), code(grpc.status.NOT_FOUND));
    await assert.rejects(write([{ action: "STAT", ref: "x" }], storeMetadata("local:/elsewhere")), code(grpc.status.NOT_FOUND));
    await assert.rejects(unary("Info", { digest }), code(grpc.status.NOT_FOUND));
    await assert.rejects(unary("Info", { digest: "sha256:../../x" }), code(grpc.status.INVALID_ARGUMENT));
    await assert.rejects(read(digest, 0, 0), code(grpc.status.NOT_FOUND));
    await assert.rejects(write([{ action: "STAT", ref: "" }]), code(grpc.status.INVALID_ARGUMENT));
  });

  test("a read past the end is OUT_OF_RANGE", async () => {
    const data = Buffer.from("short");
    await write([{ action: "STAT", ref: "short", expected: sha256(data) }, { action: "WRITE", data }, { action: "COMMIT", total: 5, offset: 5, expected: sha256(data) }]);
    await assert.rejects(read(sha256(data), 6, 0), code(grpc.status.OUT_OF_RANGE));
    assert.deepEqual(await read(sha256(data), 5, 0), []);
  });
});
