import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { upgradeToGrpc } from "../../../src/buildkit/transport/engine-upgrade.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A Unix socket server that reads the request's header block and then answers with `answer` (raw bytes). */
async function engineAnswering(answer: (socket: Socket, request: string) => void): Promise<{ path: string; close(): void }> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-upgrade-"));
  dirs.push(dir);
  const path = join(dir, "docker.sock");
  const server = createServer((socket) => {
    let request = "";
    socket.on("data", (chunk: Buffer) => {
      request += chunk.toString("latin1");
      if (request.includes("\r\n\r\n")) answer(socket, request);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, close: () => server.close() };
}

async function dial(path: string): Promise<Socket> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

describe("upgradeToGrpc", () => {
  it("sends POST /grpc with Upgrade: h2c; bytes that came with the 101 stay readable for HTTP/2", async () => {
    let seen = "";
    const engine = await engineAnswering((socket, request) => {
      seen = request;
      socket.write("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nFIRST-FRAMES");
      setTimeout(() => socket.write("LATER"), 20);
    });
    const socket = await dial(engine.path);
    try {
      await upgradeToGrpc(socket, 5_000);
      assert.match(seen, /^POST \/grpc HTTP\/1\.1\r\n/);
      assert.match(seen, /\r\nUpgrade: h2c\r\n/i);
      assert.match(seen, /\r\nConnection: Upgrade\r\n/i);
      let after = "";
      socket.on("data", (chunk: Buffer) => (after += chunk.toString("latin1")));
      socket.resume();
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(after, "FIRST-FRAMESLATER");
    } finally {
      socket.destroy();
      engine.close();
    }
  });

  it("a refusal carries the Engine's message, read to its Content-Length", async () => {
    const body = JSON.stringify({ message: "no upgrade proto in request" });
    const engine = await engineAnswering((socket) =>
      socket.write(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
    const socket = await dial(engine.path);
    try {
      await assert.rejects(upgradeToGrpc(socket, 5_000), /refused POST \/grpc \(500\): no upgrade proto in request/);
    } finally {
      socket.destroy();
      engine.close();
    }
  });

  it("something that is not HTTP, a closed socket and silence each fail clearly", async () => {
    const garbage = await engineAnswering((socket) => socket.write("SSH-2.0-OpenSSH\r\n\r\n"));
    const closing = await engineAnswering((socket) => socket.end());
    const silent = await engineAnswering(() => {});
    const sockets = await Promise.all([dial(garbage.path), dial(closing.path), dial(silent.path)]);
    try {
      await assert.rejects(upgradeToGrpc(sockets[0]!, 5_000), /something other than HTTP/);
      await assert.rejects(upgradeToGrpc(sockets[1]!, 5_000), /closed the connection before answering/);
      await assert.rejects(upgradeToGrpc(sockets[2]!, 100), /did not answer POST \/grpc within 100 ms/);
    } finally {
      for (const s of sockets) s.destroy();
      for (const e of [garbage, closing, silent]) e.close();
    }
  });
});
