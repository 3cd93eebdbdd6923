import { createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import { chmod, link, lstat, lutimes, mkdir, realpath, rm, symlink, utimes } from "node:fs/promises";
import { once } from "node:events";
import { posix, join } from "node:path";
import { finished } from "node:stream/promises";
import * as grpc from "@grpc/grpc-js";
import { kindOfGoMode, posixPermissions } from "../filesync/file-mode.js";
import type { Packet } from "../generated/fsutil/types/Packet.js";
import type { Stat__Output } from "../generated/fsutil/types/Stat.js";
import { protos } from "../proto.js";

interface IncomingFile {
  path: string;
  absolutePath: string;
  stat: Stat__Output;
  out: WriteStream;
}

class ExportProtocolError extends Error {}

/**
 * Receives a `local` export: the daemon is the fsutil sender (docs/buildkit-wire.md#filesend), so this side reads its listing,
 * creates directories and symlinks, requests every regular file, writes the DATA chunks, applies modes and
 * mtimes (directories last, so writing their contents does not change them) and then sends FIN.
 * Files are written as the current user. Paths are confined to `dest`: an entry must name a directory of this
 * listing as its parent, so neither `..` nor a received symlink can redirect a write outside it.
 */
export function receiveLocalExport(call: grpc.ServerDuplexStream<Buffer, Buffer>, dest: string): void {
  const Packet = protos().filesync.fsutil.types.Packet;
  const send = (packet: Packet): void => {
    if (!call.writableEnded) call.write(Packet.serialize(packet));
  };

  let root = "";
  const dirs = new Set<string>([""]);
  const dirMetadata: Array<{ absolutePath: string; stat: Stat__Output }> = [];
  const hardlinks: Array<{ absolutePath: string; target: string }> = [];
  const files = new Map<number, IncomingFile>();
  let nextId = 0;
  let listingDone = false;
  let finSent = false;
  let done = false;

  const fail = (error: unknown): void => {
    if (done) return;
    done = true;
    const details = error instanceof Error ? error.message : String(error);
    send({ type: "PACKET_ERR", data: Buffer.from(details) });
    for (const file of files.values()) file.out.destroy();
    call.emit("error", { code: error instanceof ExportProtocolError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, details });
  };
  const complete = (): void => {
    if (done) return;
    done = true;
    call.end();
  };

  const entryPath = (path: string): string => {
    const parts = path.split("/");
    if (path === "" || path.includes("\0") || parts.some((p) => p === "" || p === "." || p === "..")) {
      throw new ExportProtocolError(`invalid path ${JSON.stringify(path)} in export`);
    }
    const parent = posix.dirname(path);
    if (!dirs.has(parent === "." ? "" : parent)) throw new ExportProtocolError(`changes out of order: ${path} before its parent`);
    return join(root, ...parts);
  };

  const clear = async (absolutePath: string, keepDir: boolean): Promise<void> => {
    const existing = await lstat(absolutePath).catch(() => undefined);
    if (!existing || (keepDir && existing.isDirectory())) return;
    await rm(absolutePath, { recursive: true, force: true });
  };

  const onStat = async (id: number, stat: Stat__Output): Promise<void> => {
    const absolutePath = entryPath(stat.path);
    const kind = kindOfGoMode(stat.mode);
    if (kind === "dir") {
      await clear(absolutePath, true);
      await mkdir(absolutePath, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
      dirs.add(stat.path);
      dirMetadata.push({ absolutePath, stat });
      return;
    }
    if (kind === "other") return; // devices and pipes are not recreated
    await clear(absolutePath, false);
    if (kind === "symlink") {
      await symlink(stat.linkname, absolutePath);
      await lutimes(absolutePath, seconds(stat.modTime), seconds(stat.modTime));
      return;
    }
    if (stat.linkname !== "") {
      // A hard link to an earlier entry; linked once all file contents are in place.
      hardlinks.push({ absolutePath, target: entryPath(stat.linkname) });
      return;
    }
    const out = createWriteStream(absolutePath, { flags: "wx", mode: 0o600 });
    out.on("error", () => undefined); // surfaced by the next write or by finished()
    files.set(id, { path: stat.path, absolutePath, stat, out });
    send({ type: "PACKET_REQ", ID: id });
  };

  const onData = async (id: number, data: Buffer): Promise<void> => {
    const file = files.get(id);
    if (!file) throw new ExportProtocolError(`invalid file request ${id}`);
    if (data.length > 0) {
      if (!file.out.write(data)) await once(file.out, "drain");
      return;
    }
    file.out.end();
    await finished(file.out);
    await chmod(file.absolutePath, posixPermissions(file.stat.mode));
    await utimes(file.absolutePath, seconds(file.stat.modTime), seconds(file.stat.modTime));
    files.delete(id);
    await maybeFinish();
  };

  const maybeFinish = async (): Promise<void> => {
    if (!listingDone || files.size > 0 || finSent) return;
    for (const { absolutePath, target } of hardlinks) await link(target, absolutePath);
    for (const { absolutePath, stat } of dirMetadata.reverse()) {
      await chmod(absolutePath, posixPermissions(stat.mode));
      await utimes(absolutePath, seconds(stat.modTime), seconds(stat.modTime));
    }
    finSent = true;
    send({ type: "PACKET_FIN" });
  };

  const handle = async (frame: Buffer): Promise<void> => {
    const packet = Packet.deserialize(frame);
    switch (packet.type) {
      case "PACKET_STAT":
        if (packet.stat === null) {
          listingDone = true;
          await maybeFinish();
        } else await onStat(nextId++, packet.stat);
        return;
      case "PACKET_DATA":
        await onData(packet.ID, packet.data);
        return;
      case "PACKET_FIN":
        if (!finSent) throw new ExportProtocolError("sender finished before all files were received");
        complete();
        return;
      case "PACKET_ERR":
        throw new Error(`error from sender: ${packet.data.toString("utf8")}`);
      default:
        return;
    }
  };

  // Frames are handled one at a time, in order; reading pauses while a frame's file work is pending.
  let chain: Promise<void> = (async () => {
    await mkdir(dest, { recursive: true });
    root = await realpath(dest);
  })();
  chain.catch(fail);
  call.on("data", (frame: Buffer) => {
    if (done) return;
    call.pause();
    chain = chain.then(() => handle(frame)).then(() => {
      if (!done) call.resume();
    });
    chain.catch(fail);
  });
  call.on("end", () => {
    chain = chain.then(() => (finSent ? complete() : fail(new ExportProtocolError("sender closed the stream before the export was complete"))));
    chain.catch(fail);
  });
  call.on("cancelled", () => {
    done = true;
    for (const file of files.values()) file.out.destroy();
  });
}

/** fsutil nanosecond mtimes → the seconds `utimes` takes (microsecond precision is what survives). */
function seconds(modTimeNs: string): number {
  return Number(BigInt(modTimeNs || "0") / 1000n) / 1e6;
}
