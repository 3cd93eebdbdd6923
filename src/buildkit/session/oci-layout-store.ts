import { createHash, randomBytes } from "node:crypto";
import type { Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { ReadStream } from "node:fs";
import { mkdir, open, rename, rm, rmdir, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";

/**
 * The blobs of an OCI image layout (`DIR/blobs/<algorithm>/<hex>`) as a content store the daemon reads and writes
 * during a `type=local` cache import or export. A blob is written to a temporary file under `DIR/ingest`, hashed
 * as it arrives, and renamed into place only once its size and digest are verified, so a blob path never holds
 * partial or wrong content. `index.json` is not touched here (see oci-index.ts).
 */

export type ContentStoreErrorKind = "invalid-argument" | "not-found" | "already-exists" | "locked" | "failed-precondition" | "out-of-range";

export class ContentStoreError extends Error {
  constructor(
    readonly kind: ContentStoreErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "ContentStoreError";
  }
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** `sha256:<64 hex>` or `sha512:<128 hex>`: the only digests that name a blob, so a digest never escapes `blobs/`. */
export function checkDigest(digest: string): { algorithm: "sha256" | "sha512"; hex: string } {
  if (!DIGEST.test(digest)) throw new ContentStoreError("invalid-argument", `"${digest}" is not a sha256 or sha512 digest`);
  const [algorithm, hex] = digest.split(":") as ["sha256" | "sha512", string];
  return { algorithm, hex };
}

export interface BlobInfo {
  digest: string;
  size: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One blob being written under a ref; the write is sequential (append only), as the daemon's writer is. */
export class BlobWriter {
  readonly startedAt = new Date();
  updatedAt = this.startedAt;
  offset = 0;
  private readonly algorithm: "sha256" | "sha512";
  private hash: Hash;
  private closed = false;

  constructor(
    readonly ref: string,
    private readonly store: OciLayoutStore,
    private readonly tempPath: string,
    private readonly file: FileHandle,
    /** The digest the writer was opened with, if any; it picks the hash algorithm. */
    expected: string | undefined,
  ) {
    this.algorithm = expected ? checkDigest(expected).algorithm : "sha256";
    this.hash = createHash(this.algorithm);
  }

  /** Digest of what was written so far. */
  digest(): string {
    return `${this.algorithm}:${this.hash.copy().digest("hex")}`;
  }

  async write(data: Uint8Array): Promise<number> {
    const { bytesWritten } = await this.file.write(data, 0, data.length, this.offset);
    this.hash.update(data.subarray(0, bytesWritten));
    this.offset += bytesWritten;
    this.updatedAt = new Date();
    return bytesWritten;
  }

  /** Starts over from byte 0 (the only truncation an append-only writer needs). */
  async restart(): Promise<void> {
    await this.file.truncate(0);
    this.hash = createHash(this.algorithm);
    this.offset = 0;
    this.updatedAt = new Date();
  }

  /**
   * Verifies the size (when `size` > 0) and the digest (when `expected` is given), then moves the blob into place.
   * Returns the blob's digest. A blob that appeared meanwhile is kept and reported as already existing.
   */
  async commit(size: number, expected: string | undefined): Promise<string> {
    if (expected) checkDigest(expected);
    if (size > 0 && size !== this.offset) {
      throw new ContentStoreError("failed-precondition", `unexpected commit size ${this.offset}, expected ${size}`);
    }
    const actual = this.digest();
    if (expected && actual !== expected) {
      throw new ContentStoreError("failed-precondition", `unexpected commit digest ${actual}, expected ${expected}`);
    }
    await this.file.sync();
    await this.closeFile();
    const target = this.store.blobPath(actual);
    try {
      if (await this.store.info(actual)) throw new ContentStoreError("already-exists", `content ${actual} already exists`);
      await mkdir(join(target, ".."), { recursive: true });
      await rename(this.tempPath, target);
      return actual;
    } finally {
      this.store.release(this);
      await rm(this.tempPath, { force: true });
    }
  }

  /** Drops what was written; nothing reaches `blobs/`. */
  async abort(): Promise<void> {
    this.store.release(this);
    await this.closeFile();
    await rm(this.tempPath, { force: true });
  }

  private async closeFile(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}

export class OciLayoutStore {
  private readonly writers = new Map<string, BlobWriter>();

  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    const { algorithm, hex } = checkDigest(digest);
    return join(this.dir, "blobs", algorithm, hex);
  }

  /** The blob's size and times, or undefined when the layout does not have it. */
  async info(digest: string): Promise<BlobInfo | undefined> {
    try {
      const found = await stat(this.blobPath(digest));
      if (!found.isFile()) return undefined;
      return { digest, size: found.size, createdAt: found.birthtime.getTime() > 0 ? found.birthtime : found.mtime, updatedAt: found.mtime };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
      throw error;
    }
  }

  /**
   * A stream of `length` bytes (to the end when `length` is 0 or less or reaches past it) from `offset`.
   * `highWaterMark` is the chunk size the caller sends on.
   */
  async reader(digest: string, offset: number, length: number, highWaterMark: number): Promise<{ info: BlobInfo; stream: ReadStream | undefined }> {
    const info = await this.info(digest);
    if (!info) throw new ContentStoreError("not-found", `content ${digest} not found`);
    const start = Math.max(0, offset);
    if (start > info.size) throw new ContentStoreError("out-of-range", `read at ${start} past the blob's ${info.size} bytes`);
    const end = length <= 0 || start + length > info.size ? info.size : start + length;
    if (end === start) return { info, stream: undefined };
    return { info, stream: createReadStream(this.blobPath(digest), { start, end: end - 1, highWaterMark }) };
  }

  /**
   * Opens a writer for `ref`. A blob that already exists under `expected` is `already-exists` (the daemon then
   * skips it); a ref that is being written is `locked` (the daemon retries).
   */
  async writer(ref: string, expected: string | undefined): Promise<BlobWriter> {
    if (ref === "") throw new ContentStoreError("invalid-argument", "a write needs a ref");
    if (expected) {
      checkDigest(expected);
      if (await this.info(expected)) throw new ContentStoreError("already-exists", `content ${expected} already exists`);
    }
    if (this.writers.has(ref)) throw new ContentStoreError("locked", `ref ${ref} is being written`);
    const ingest = join(this.dir, "ingest");
    await mkdir(ingest, { recursive: true });
    const tempPath = join(ingest, `${randomBytes(12).toString("hex")}.partial`);
    // Checked again after the await: two writes of one ref may race to here.
    if (this.writers.has(ref)) throw new ContentStoreError("locked", `ref ${ref} is being written`);
    const file = await open(tempPath, "wx", 0o644);
    const writer = new BlobWriter(ref, this, tempPath, file, expected);
    this.writers.set(ref, writer);
    return writer;
  }

  /** The write in progress under `ref`, if any. */
  activeWriter(ref: string): BlobWriter | undefined {
    return this.writers.get(ref);
  }

  /** @internal Called by a writer that committed or aborted. */
  release(writer: BlobWriter): void {
    if (this.writers.get(writer.ref) === writer) this.writers.delete(writer.ref);
  }

  /** Aborts every write still open and removes the ingest directory when nothing else is in it. */
  async close(): Promise<void> {
    await Promise.all([...this.writers.values()].map((w) => w.abort()));
    await rmdir(join(this.dir, "ingest")).catch(() => undefined);
  }
}
