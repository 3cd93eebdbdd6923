import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { acceptPeer, nativeSocketPair, SocketPairError } from "../../../src/buildkit/session/native-socket-pair.js";

async function readExactly(socket: Socket, bytes: number): Promise<Buffer> {
  let got = Buffer.alloc(0);
  while (got.length < bytes) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    got = Buffer.concat([got, chunk]);
  }
  return got;
}

test("a native pair carries bytes both ways and leaves no directory behind", async () => {
  const privateTmp = await mkdtemp(join(tmpdir(), "pair-test-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  try {
    const { server, client } = await nativeSocketPair();
    assert.deepEqual(await readdir(privateTmp), [], "the socket's directory is gone once the pair is connected");
    server.resume();
    const toServer = randomBytes(300_000);
    client.write(toServer);
    assert.ok((await readExactly(server, toServer.length)).equals(toServer), "nothing but the payload reaches the server side (the nonce is consumed)");
    server.write("pong");
    assert.equal((await readExactly(client, 4)).toString(), "pong");
    server.destroy();
    client.destroy();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(privateTmp, { recursive: true, force: true });
  }
});

test("the listening side takes only the peer that sends the nonce; others are closed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pair-test-"));
  const path = join(dir, "s");
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  try {
    const nonce = randomBytes(32);
    const accepted = acceptPeer(listener, nonce, 5_000);
    const intruder = connect(path);
    intruder.on("error", () => {});
    intruder.write(randomBytes(32));
    await once(intruder, "close");

    const peer = connect(path);
    // The nonce in two pieces, followed by data that must stay readable on the accepted socket.
    peer.write(nonce.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    peer.write(Buffer.concat([nonce.subarray(10), Buffer.from("hello")]));
    const socket = await accepted;
    socket.resume();
    assert.equal((await readExactly(socket, 5)).toString(), "hello");
    socket.destroy();
    peer.destroy();
  } finally {
    listener.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("no peer: acceptPeer gives up after its timeout", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pair-test-"));
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(join(dir, "s"), resolve));
  try {
    await assert.rejects(acceptPeer(listener, randomBytes(32), 50), SocketPairError);
  } finally {
    listener.close();
    await rm(dir, { recursive: true, force: true });
  }
});
