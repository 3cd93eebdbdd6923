import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { lstat, mkdtemp, readFile, readdir, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FILE_SEND_DIFF_COPY, fileSendService } from "../../../src/buildkit/export/file-send-service.js";
import type { ClientSideOutput } from "../../../src/buildkit/export/file-send-service.js";
import { GoFileMode } from "../../../src/buildkit/filesync/file-mode.js";
import type { Packet } from "../../../src/buildkit/generated/fsutil/types/Packet.js";
import type { Stat } from "../../../src/buildkit/generated/fsutil/types/Stat.js";
import { protos } from "../../../src/buildkit/proto.js";
import { callStatus, serveOnUnixSocket } from "../filesync/service-harness.js";

const identity = (b: Buffer): Buffer => b;
const PacketType = protos().filesync.fsutil.types.Packet;
const BytesMessage = protos().filesync.moby.filesync.v1.BytesMessage;

/** Opens FileSend/DiffCopy the way the daemon does, with raw frames. */
async function openDiffCopy(output: ClientSideOutput) {
  const served = await serveOnUnixSocket(fileSendService(output));
  const client = new grpc.Client(served.address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(FILE_SEND_DIFF_COPY, identity, identity, new grpc.Metadata());
  return {
    call,
    status: callStatus(call),
    close: async () => {
      client.close();
      await served.close();
    },
  };
}

test("the service advertises FileSend/DiffCopy", () => {
  const service = fileSendService({ type: "tar", dest: "/tmp/x.tar" });
  assert.deepEqual(service.methods, ["/moby.filesync.v1.FileSend/DiffCopy"]);
  assert.equal(service.definition.DiffCopy?.path, "/moby.filesync.v1.FileSend/DiffCopy");
});

test("tar export: BytesMessage frames are written to dest once the daemon half-closes", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-tar-"));
  const dest = join(dir, "out.tar");
  const peer = await openDiffCopy({ type: "tar", dest });
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  const payload = randomBytes(5 * 1024 * 1024 + 123);
  for (let offset = 0; offset < payload.length; offset += 1024 * 1024) {
    peer.call.write(BytesMessage.serialize({ data: payload.subarray(offset, offset + 1024 * 1024) }));
  }
  peer.call.end();
  const status = await peer.status;
  assert.equal(status.code, grpc.status.OK);
  assert.ok((await readFile(dest)).equals(payload));
  assert.deepEqual(await readdir(dir), ["out.tar"]);
});

test("tar export: a cancelled transfer leaves neither dest nor a partial file", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-tar-"));
  const dest = join(dir, "out.tar");
  const peer = await openDiffCopy({ type: "tar", dest });
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  peer.call.write(BytesMessage.serialize({ data: Buffer.from("partial") }));
  await new Promise((resolve) => peer.call.write(BytesMessage.serialize({ data: Buffer.from("more") }), resolve));
  peer.call.cancel();
  assert.equal((await peer.status).code, grpc.status.CANCELLED);
  for (let i = 0; i < 50 && (await readdir(dir)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await readdir(dir), []);
});

interface SentEntry {
  stat: Stat;
  content?: Buffer;
}

/**
 * Plays the daemon's fsutil sender: sends the listing, answers each REQ with 32 KiB DATA chunks and an empty one,
 * and replies FIN to the receiver's FIN.
 */
async function sendTree(call: grpc.ClientDuplexStream<Buffer, Buffer>, entries: SentEntry[]): Promise<number[]> {
  const requested: number[] = [];
  call.on("data", (frame: Buffer) => {
    const packet = PacketType.deserialize(frame);
    if (packet.type === "PACKET_REQ") {
      requested.push(packet.ID);
      const content = entries[packet.ID]?.content ?? Buffer.alloc(0);
      for (let offset = 0; offset < content.length; offset += 32 * 1024) {
        call.write(PacketType.serialize({ type: "PACKET_DATA", ID: packet.ID, data: content.subarray(offset, offset + 32 * 1024) }));
      }
      call.write(PacketType.serialize({ type: "PACKET_DATA", ID: packet.ID }));
    } else if (packet.type === "PACKET_FIN") {
      call.write(PacketType.serialize({ type: "PACKET_FIN" }));
    }
  });
  for (const entry of entries) call.write(PacketType.serialize({ type: "PACKET_STAT", stat: entry.stat } satisfies Packet));
  call.write(PacketType.serialize({ type: "PACKET_STAT" }));
  return requested;
}

const T1 = "1700000000123456000";
const T2 = "1600000000000000000";

test("local export: dirs, files, symlinks, modes and mtimes arrive under dest (one folder per platform)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-local-"));
  const dest = join(dir, "out");
  const peer = await openDiffCopy({ type: "local", dest });
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  const big = randomBytes(200 * 1024 + 7);
  const dirMode = (GoFileMode.Dir | 0o755) >>> 0;
  const entries: SentEntry[] = [
    { stat: { path: "linux_amd64", mode: dirMode, modTime: T2 } },
    { stat: { path: "linux_amd64/bin", mode: dirMode, modTime: T2 } },
    { stat: { path: "linux_amd64/bin/tool", mode: 0o755, size: 4, modTime: T1 }, content: Buffer.from("tool") },
    { stat: { path: "linux_amd64/big.bin", mode: 0o644, size: big.length, modTime: T1 }, content: big },
    { stat: { path: "linux_amd64/empty", mode: 0o600, modTime: T1 } },
    { stat: { path: "linux_amd64/link", mode: (GoFileMode.Symlink | 0o777) >>> 0, linkname: "bin/tool", size: 8, modTime: T1 } },
    { stat: { path: "linux_amd64/hard", mode: 0o644, linkname: "linux_amd64/big.bin", modTime: T1 } },
    { stat: { path: "linux_arm64", mode: dirMode, modTime: T2 } },
    { stat: { path: "linux_arm64/su", mode: (GoFileMode.Setuid | 0o755) >>> 0, size: 2, modTime: T1 }, content: Buffer.from("su") },
  ];
  const requested = await sendTree(peer.call, entries);
  const status = await peer.status;
  assert.equal(status.code, grpc.status.OK, status.details);
  assert.deepEqual(requested.sort(), [2, 3, 4, 8]);

  const amd64 = join(dest, "linux_amd64");
  assert.equal(await readFile(join(amd64, "bin/tool"), "utf8"), "tool");
  assert.equal((await stat(join(amd64, "bin/tool"))).mode & 0o7777, 0o755);
  assert.ok((await readFile(join(amd64, "big.bin"))).equals(big));
  assert.equal((await readFile(join(amd64, "empty"))).length, 0);
  assert.equal((await stat(join(amd64, "empty"))).mode & 0o7777, 0o600);
  assert.equal(await readlink(join(amd64, "link")), "bin/tool");
  assert.equal((await stat(join(amd64, "hard"))).ino, (await stat(join(amd64, "big.bin"))).ino);
  assert.equal((await stat(join(dest, "linux_arm64/su"))).mode & 0o7777, 0o4755);
  const toolTimes = await stat(join(amd64, "bin/tool"), { bigint: true });
  assert.equal(toolTimes.mtimeNs / 1000n, BigInt(T1) / 1000n);
  const dirTimes = await stat(join(amd64, "bin"), { bigint: true });
  assert.equal(dirTimes.mtimeNs, BigInt(T2));
  assert.equal((await lstat(join(amd64, "link"), { bigint: true })).mtimeNs / 1000n, BigInt(T1) / 1000n);
});

test("local export: paths escaping dest or crossing a received symlink are refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-local-"));
  const dest = join(dir, "out");
  t.after(() => rm(dir, { recursive: true, force: true }));

  const cases: SentEntry[][] = [
    [{ stat: { path: "../evil", mode: 0o644 }, content: Buffer.from("x") }],
    [
      { stat: { path: "escape", mode: (GoFileMode.Symlink | 0o777) >>> 0, linkname: dir } },
      { stat: { path: "escape/evil", mode: 0o644 }, content: Buffer.from("x") },
    ],
    [{ stat: { path: "/abs", mode: 0o644 } }],
  ];
  for (const entries of cases) {
    const peer = await openDiffCopy({ type: "local", dest });
    const frames: Buffer[] = [];
    peer.call.on("data", (frame: Buffer) => frames.push(frame));
    for (const entry of entries) peer.call.write(PacketType.serialize({ type: "PACKET_STAT", stat: entry.stat }));
    peer.call.write(PacketType.serialize({ type: "PACKET_STAT" }));
    const status = await peer.status;
    await peer.close();
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(entries));
    assert.ok(frames.some((f) => PacketType.deserialize(f).type === "PACKET_ERR"));
  }
  assert.deepEqual((await readdir(dir)).sort(), ["out"]);
  await assert.rejects(lstat(join(dir, "evil")));
});

test("local export: PACKET_ERR from the sender fails the call", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bkb-local-"));
  const peer = await openDiffCopy({ type: "local", dest: join(dir, "out") });
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  peer.call.on("data", () => undefined);
  peer.call.write(PacketType.serialize({ type: "PACKET_ERR", data: Buffer.from("exporter exploded") }));
  const status = await peer.status;
  assert.equal(status.code, grpc.status.INTERNAL);
  assert.match(status.details, /error from sender: exporter exploded/);
});
