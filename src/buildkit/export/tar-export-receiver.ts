import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import * as grpc from "@grpc/grpc-js";
import { protos } from "../proto.js";

/**
 * Receives a `tar` export: the daemon streams the archive as BytesMessage frames and half-closes when done. The
 * archive goes to a temporary file next to `dest` and is renamed into place only when complete; `-` streams it
 * to stdout instead.
 */
export function receiveTarExport(call: grpc.ServerDuplexStream<Buffer, Buffer>, dest: string): void {
  const BytesMessage = protos().filesync.moby.filesync.v1.BytesMessage;
  const toStdout = dest === "-";
  const partial = toStdout ? undefined : join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString("hex")}.partial`);
  const out: Writable = partial === undefined ? process.stdout : createWriteStream(partial, { flags: "wx", mode: 0o644 });
  let done = false;

  const abandon = (): void => {
    if (partial === undefined) return;
    out.destroy();
    void rm(partial, { force: true });
  };
  const fail = (details: string): void => {
    if (done) return;
    done = true;
    abandon();
    call.emit("error", { code: grpc.status.INTERNAL, details });
  };

  out.on("error", (error: NodeJS.ErrnoException) => fail(`writing ${toStdout ? "stdout" : dest}: ${error.code ?? error.message}`));
  call.on("data", (frame: Buffer) => {
    if (done) return;
    let data: Buffer;
    try {
      data = BytesMessage.deserialize(frame).data;
    } catch {
      fail("malformed BytesMessage frame from the daemon");
      return;
    }
    if (data.length > 0 && !out.write(data)) {
      call.pause();
      out.once("drain", () => call.resume());
    }
  });
  call.on("end", () => {
    if (done) return;
    void (async () => {
      if (partial !== undefined) {
        out.end();
        await finished(out);
        await rename(partial, dest);
      } else if (out.writableNeedDrain) {
        await new Promise((resolve) => out.once("drain", resolve));
      }
      if (done) return;
      done = true;
      call.end();
    })().catch((error: NodeJS.ErrnoException) => fail(`finishing ${dest}: ${error.code ?? error.message}`));
  });
  call.on("cancelled", () => {
    if (done) return;
    done = true;
    abandon();
  });
}
