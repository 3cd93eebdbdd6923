import { randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NONCE_BYTES = 32;
const PAIR_TIMEOUT_MS = 5_000;

export class SocketPairError extends Error {
  override readonly name = "SocketPairError";
}

/**
 * Two connected native sockets, for a session's inner HTTP/2 connection. Node writes to a native socket straight
 * through to the kernel, often in the same tick, while a JavaScript Duplex costs an event-loop turn per write
 * (`JSStreamSocket`): with one gRPC message per write, a FileSync listing of thousands of entries spent most of its
 * time waiting for those turns.
 *
 * The pair is made over a Unix socket in a fresh directory only this user can enter (mkdtemp: 0700), and the
 * directory is removed once the pair is connected. The listening side also takes only the connection that first
 * sends a random nonce known to the connecting side, so nothing else can become the session's peer.
 */
export async function nativeSocketPair(): Promise<{ server: Socket; client: Socket }> {
  if (process.platform === "win32") throw new SocketPairError("native socket pairs are made over Unix sockets");
  const dir = await mkdtemp(join(tmpdir(), "bkb-session-"));
  const path = join(dir, "s");
  const listener = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(path, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    const nonce = randomBytes(NONCE_BYTES);
    const accepted = acceptPeer(listener, nonce, PAIR_TIMEOUT_MS);
    const client = connect(path);
    client.on("error", () => client.destroy());
    client.write(nonce);
    try {
      return { server: await accepted, client };
    } catch (err) {
      client.destroy();
      throw err;
    }
  } finally {
    listener.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The first connection to `listener` whose first bytes are `nonce`, paused with nothing read past the nonce; any
 * other connection is closed. Rejects after `timeoutMs`.
 */
export function acceptPeer(listener: Server, nonce: Buffer, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new SocketPairError(`no peer connected within ${timeoutMs} ms`)), timeoutMs);
    const finish = (result: Socket | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      listener.off("connection", onConnection);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onConnection = (socket: Socket): void => {
      socket.on("error", () => socket.destroy());
      let received = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        received = Buffer.concat([received, chunk]);
        if (received.length < nonce.length) return;
        socket.off("data", onData);
        socket.pause();
        const matches = timingSafeEqual(received.subarray(0, nonce.length), nonce);
        if (!matches || settled) {
          socket.destroy();
          return;
        }
        const rest = received.subarray(nonce.length);
        if (rest.length > 0) socket.unshift(rest);
        finish(socket);
      };
      socket.on("data", onData);
    };
    listener.on("connection", onConnection);
  });
}
