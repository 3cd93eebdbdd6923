import type * as grpc from "@grpc/grpc-js";

/** What the daemon asks for when it opens a FileSync `DiffCopy` (docs/buildkit-wire.md#diffcopy-metadata). */
export interface DiffCopyRequest {
  /** `context`, `dockerfile` or a custom local name. */
  dirName: string;
  excludePatterns: string[];
  includePatterns: string[];
  followPaths: string[];
}

export const DiffCopyMetadataKey = {
  DirName: "dir-name",
  ExcludePatterns: "exclude-patterns",
  IncludePatterns: "include-patterns",
  FollowPaths: "followpaths",
} as const;

export function readDiffCopyMetadata(metadata: grpc.Metadata): DiffCopyRequest {
  return {
    dirName: metadataValues(metadata, DiffCopyMetadataKey.DirName)[0] ?? "",
    excludePatterns: metadataValues(metadata, DiffCopyMetadataKey.ExcludePatterns),
    includePatterns: metadataValues(metadata, DiffCopyMetadataKey.IncludePatterns),
    followPaths: metadataValues(metadata, DiffCopyMetadataKey.FollowPaths),
  };
}

/**
 * All values of a repeated metadata key. Node's http2 joins repeated incoming header fields with ", " into one
 * string (docs/buildkit-wire.md#repeated-metadata), so values are split again; `<key>-encoded: 1` means each value is URL-query-escaped
 * (which also escapes commas and spaces, so splitting first is safe).
 */
export function metadataValues(metadata: grpc.Metadata, key: string): string[] {
  const encoded = metadata.get(`${key}-encoded`).some((v) => String(v).trim() === "1");
  const values: string[] = [];
  for (const raw of metadata.get(key)) {
    const text = Buffer.isBuffer(raw) ? raw.toString("utf8") : raw;
    for (const part of text.split(", ")) {
      if (part === "") continue;
      values.push(encoded ? queryUnescape(part) : part);
    }
  }
  return values;
}

/** Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte. */
export function queryUnescape(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, " "));
}
