/** Default bytes of log kept per step for failure reports. */
export const DEFAULT_LOG_TAIL_BYTES = 64 * 1024;

/**
 * The last `maxBytes` of a step's log, as text pieces in arrival order. Appending is O(1) amortised and never
 * splits the stream into lines; `lines()` does that once, when a failure is reported.
 */
export class LogTail {
  private pieces: string[] = [];
  private head = 0;
  private bytes = 0;
  /** The oldest retained text starts mid-line (its beginning was dropped). */
  private cutStart = false;

  constructor(readonly maxBytes: number = DEFAULT_LOG_TAIL_BYTES) {}

  append(text: string): void {
    if (text.length === 0 || this.maxBytes <= 0) return;
    let piece = text;
    let size = Buffer.byteLength(piece);
    if (size > this.maxBytes) {
      piece = lastBytes(piece, this.maxBytes);
      size = Buffer.byteLength(piece);
      this.dropAll();
      this.cutStart = true;
    }
    this.pieces.push(piece);
    this.bytes += size;
    while (this.bytes > this.maxBytes && this.head < this.pieces.length - 1) {
      const dropped = this.pieces[this.head] ?? "";
      this.bytes -= Buffer.byteLength(dropped);
      this.pieces[this.head] = "";
      this.head++;
      this.cutStart = !dropped.endsWith("\n");
    }
    if (this.bytes > this.maxBytes) {
      // Only the newest piece is left and it alone is too big: keep its end.
      const only = lastBytes(piece, this.maxBytes);
      this.pieces[this.pieces.length - 1] = only;
      this.bytes = Buffer.byteLength(only);
      this.cutStart = true;
    }
    if (this.head > 64 && this.head * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }

  /** Bytes currently retained. */
  get size(): number {
    return this.bytes;
  }

  /** The retained text split into lines; a partial first line left by truncation is dropped. */
  lines(): string[] {
    const text = this.pieces.slice(this.head).join("");
    if (text.length === 0) return [];
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    if (this.cutStart && lines.length > 1) lines.shift();
    return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  }

  private dropAll(): void {
    this.pieces = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** The end of `text` that fits in `maxBytes` of UTF-8, as a fresh string (no reference to the original). */
function lastBytes(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, "utf8");
  let start = buf.length - maxBytes;
  if (start <= 0) return text;
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString("utf8");
}
