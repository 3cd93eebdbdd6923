import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { fileSyncService } from "../../../src/buildkit/filesync/file-sync-service.js";
import type { Packet, Packet__Output } from "../../../src/buildkit/generated/fsutil/types/Packet.js";
import type { Stat__Output } from "../../../src/buildkit/generated/fsutil/types/Stat.js";
import { protos } from "../../../src/buildkit/proto.js";
import { callStatus, serveOnUnixSocket } from "./service-harness.js";

type DiffCopyCall = grpc.ClientDuplexStream<Packet, Packet__Output>;

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "bkb-fsync-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

function metadata(values: Record<string, string | string[]>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(values)) for (const v of [value].flat()) md.add(key, v);
  return md;
}

interface Received {
  stats: Stat__Output[];
  files: Map<string, Buffer>;
  status: grpc.StatusObject;
  finFromClient: boolean;
  listingTerminatorHadNoStat: boolean;
}

/**
 * Plays the daemon (fsutil receiver): reads the listing, requests files as soon as their STAT arrives (before the
 * listing ends), collects DATA until the empty chunk, sends FIN when everything arrived and waits for the status.
 */
async function receive(call: DiffCopyCall, want: (stat: Stat__Output) => boolean = () => true): Promise<Received> {
  const status = callStatus(call);
  const stats: Stat__Output[] = [];
  const chunks = new Map<number, Buffer[]>();
  const files = new Map<string, Buffer>();
  let listingDone = false;
  let finSent = false;
  let finFromClient = false;
  let listingTerminatorHadNoStat = false;
  const maybeFinish = () => {
    if (listingDone && chunks.size === 0 && !finSent) {
      finSent = true;
      call.write({ type: "PACKET_FIN" });
    }
  };
  call.on("data", (packet: Packet__Output) => {
    switch (packet.type) {
      case "PACKET_STAT":
        if (packet.stat === null) {
          listingDone = true;
          listingTerminatorHadNoStat = true;
          maybeFinish();
          return;
        }
        assert.equal(listingDone, false, "STAT after the end of the listing");
        stats.push(packet.stat);
        if ((packet.stat.mode & 0xff000000) === 0 && (packet.stat.mode & 0x80000000) === 0 && want(packet.stat)) {
          chunks.set(stats.length - 1, []);
          call.write({ type: "PACKET_REQ", ID: stats.length - 1 });
        }
        return;
      case "PACKET_DATA": {
        const parts = chunks.get(packet.ID);
        assert.ok(parts, `DATA for a file that was not requested: ${packet.ID}`);
        if (packet.data.length > 0) {
          assert.ok(packet.data.length <= 32 * 1024);
          parts.push(packet.data);
          return;
        }
        files.set((stats[packet.ID] as Stat__Output).path, Buffer.concat(parts));
        chunks.delete(packet.ID);
        maybeFinish();
        return;
      }
      case "PACKET_FIN":
        finFromClient = true;
        call.end();
        return;
      default:
        assert.fail(`unexpected ${packet.type}`);
    }
  });
  return { stats, files, status: await status, finFromClient, listingTerminatorHadNoStat };
}

function fileSyncClient(address: string) {
  const FileSync = protos().filesync.moby.filesync.v1.FileSync;
  return new FileSync(address, grpc.credentials.createInsecure());
}

test("the listing terminator is a STAT packet without a stat: bytes 08 00", () => {
  const Packet = protos().filesync.fsutil.types.Packet;
  assert.deepEqual([...Packet.serialize({ type: "PACKET_STAT" })], [0x08, 0x00]);
  assert.deepEqual([...Packet.serialize({ type: "PACKET_STAT", stat: {} })], [0x08, 0x00, 0x12, 0x00]);
  const stat = Packet.serialize({ type: "PACKET_STAT", stat: { path: "a", mode: 0x80000000 + 0o755, modTime: "1700000000123456789" } });
  const decoded = Packet.deserialize(stat);
  assert.equal(decoded.stat?.modTime, "1700000000123456789");
  assert.equal(decoded.stat?.mode, 2147484141);
});

test("DiffCopy sends the filtered listing, the requested files and answers FIN", async (t) => {
  const context = await tree({
    ".dockerignore": "*.log\n",
    Dockerfile: "FROM scratch\nCOPY . /\n",
    "app.log": "noise",
    "keep.log": "kept",
    "src/main.txt": "main",
    "src/nested/deep.txt": "deep",
    "tmp/junk": "junk",
  });
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });

  // Three separate header fields per key: Node joins them with ", " on the server (docs/buildkit-wire.md#repeated-metadata).
  const call = client.DiffCopy(
    metadata({ "dir-name": "context", "exclude-patterns": ["*.log", "!keep.log", "tmp", ".dockerignore"] }),
  );
  const received = await receive(call, (stat) => stat.path !== "src/main.txt");
  assert.equal(received.status.code, grpc.status.OK);
  assert.equal(received.finFromClient, true);
  assert.equal(received.listingTerminatorHadNoStat, true);
  assert.deepEqual(
    received.stats.map((s) => s.path),
    ["Dockerfile", "keep.log", "src", "src/main.txt", "src/nested", "src/nested/deep.txt"],
  );
  assert.deepEqual(Object.fromEntries([...received.files].map(([k, v]) => [k, v.toString()])), {
    Dockerfile: "FROM scratch\nCOPY . /\n",
    "keep.log": "kept",
    "src/nested/deep.txt": "deep",
  });
});

test("followpaths on the dockerfile dir, URL-encoded metadata and the dockerfile allow-list", async (t) => {
  const context = await tree({ "ci/build.Dockerfile": "FROM scratch\n", "déjà vu.txt": "x", "ci/secret.env": "TOKEN=1" });
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }, { dockerfileName: "ci/build.Dockerfile" }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });

  const dockerfile = await receive(client.DiffCopy(metadata({ "dir-name": "dockerfile" })));
  assert.equal(dockerfile.status.code, grpc.status.OK);
  assert.deepEqual(
    dockerfile.stats.map((s) => s.path),
    ["ci", "ci/build.Dockerfile"],
  );

  const encoded = await receive(
    client.DiffCopy(
      metadata({
        "dir-name": "context",
        "exclude-patterns": [encodeURIComponent("déjà vu.txt").replace(/%20/g, "+"), "ci%2Fsecret.env"],
        "exclude-patterns-encoded": "1",
      }),
    ),
  );
  assert.equal(encoded.status.code, grpc.status.OK);
  assert.deepEqual(
    encoded.stats.map((s) => s.path),
    ["ci", "ci/build.Dockerfile"],
  );
});

test("an unknown dir-name is NOT_FOUND", async (t) => {
  const context = await tree({ a: "a" });
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });
  const call = client.DiffCopy(metadata({ "dir-name": "secrets" }));
  call.end();
  const status = await callStatus(call);
  assert.equal(status.code, grpc.status.NOT_FOUND);
  assert.match(status.details, /no access allowed to dir "secrets"/);
});

test("PACKET_ERR from the receiver and an invalid request id abort the call", async (t) => {
  const context = await tree({ a: "a", b: "b" });
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });

  const errCall = client.DiffCopy(metadata({ "dir-name": "context" }));
  errCall.on("data", () => undefined);
  const errStatus = callStatus(errCall);
  errCall.write({ type: "PACKET_ERR", data: Buffer.from("disk full") });
  const first = await errStatus;
  assert.notEqual(first.code, grpc.status.OK);
  assert.match(first.details, /error from receiver: disk full/);

  const badCall = client.DiffCopy(metadata({ "dir-name": "context" }));
  const packets: Packet__Output[] = [];
  badCall.on("data", (p: Packet__Output) => {
    packets.push(p);
    // Entry 0 is file "a"; entry 7 does not exist.
    if (p.type === "PACKET_STAT" && p.stat === null) badCall.write({ type: "PACKET_REQ", ID: 7 });
  });
  const badStatus = await callStatus(badCall);
  assert.equal(badStatus.code, grpc.status.INVALID_ARGUMENT);
  assert.match(badStatus.details, /invalid file request 7/);
  assert.ok(packets.some((p) => p.type === "PACKET_ERR"));
});

test("a 10,000-file context is listed and every file served", async (t) => {
  const context = await mkdtemp(join(tmpdir(), "bkb-fsync-big-"));
  for (let d = 0; d < 20; d++) {
    await mkdir(join(context, `dir${d}`));
    await Promise.all(Array.from({ length: 500 }, (_, i) => writeFile(join(context, `dir${d}`, `file${i}.txt`), `${d}/${i}`)));
  }
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const received = await receive(client.DiffCopy(metadata({ "dir-name": "context" })));
  clearInterval(timer);
  assert.equal(received.status.code, grpc.status.OK);
  assert.equal(received.stats.length, 10_020);
  assert.equal(received.files.size, 10_000);
  assert.equal(received.files.get("dir7/file123.txt")?.toString(), "7/123");
  const paths = received.stats.map((s) => s.path);
  assert.deepEqual(paths, [...paths].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\//g, "\0")), Buffer.from(b.replace(/\//g, "\0")))));
  assert.ok(ticks > 0, "timers must keep running during the transfer");
});

test("a 50 MB file is streamed in 32 KiB chunks with back-pressure (bounded memory)", async (t) => {
  const context = await mkdtemp(join(tmpdir(), "bkb-fsync-large-"));
  const size = 50 * 1024 * 1024;
  const expected = createHash("sha256");
  const out = createWriteStream(join(context, "big.bin"));
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 50; i++) {
    block.fill(i);
    expected.update(block);
    if (!out.write(block)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  const served = await serveOnUnixSocket(fileSyncService({ context, dockerfile: context }));
  const client = fileSyncClient(served.address);
  t.after(async () => {
    client.close();
    await served.close();
    await rm(context, { recursive: true, force: true });
  });

  const call = client.DiffCopy(metadata({ "dir-name": "context" }));
  const status = callStatus(call);
  const hash = createHash("sha256");
  let bytes = 0;
  let paused = false;
  let baseline = 0;
  let growthWhilePaused = Number.NaN;
  call.on("data", (packet: Packet__Output) => {
    if (packet.type === "PACKET_STAT" && packet.stat === null) {
      baseline = process.memoryUsage().arrayBuffers;
      call.write({ type: "PACKET_REQ", ID: 0 });
    } else if (packet.type === "PACKET_DATA" && packet.data.length > 0) {
      hash.update(packet.data);
      bytes += packet.data.length;
      if (!paused && bytes >= 1024 * 1024) {
        // Stop reading: a sender ignoring back-pressure would now pull the whole file into its write queue.
        paused = true;
        call.pause();
        void sleep(500).then(() => {
          growthWhilePaused = process.memoryUsage().arrayBuffers - baseline;
          call.resume();
        });
      }
    } else if (packet.type === "PACKET_DATA") {
      call.write({ type: "PACKET_FIN" });
    } else if (packet.type === "PACKET_FIN") {
      call.end();
    }
  });
  assert.equal((await status).code, grpc.status.OK);
  assert.equal(bytes, size);
  assert.equal(hash.digest("hex"), expected.digest("hex"));
  assert.ok(growthWhilePaused < 16 * 1024 * 1024, `buffered ${growthWhilePaused} bytes while the receiver was paused`);
});
