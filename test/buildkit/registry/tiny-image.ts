import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { RegistryClient } from "../../../src/buildkit/registry/registry-client.js";
import { MediaType } from "../../../src/buildkit/registry/manifest-media-types.js";

/** A distinct, valid single-layer image manifest (schema2) whose blobs are uploaded to `repository`. */
export async function uploadTinyImage(client: RegistryClient, repository: string): Promise<{ mediaType: string; body: Buffer; digest: string }> {
  const tar = tarOfOneFile("hello.txt", Buffer.from(`hello ${randomBytes(8).toString("hex")}\n`));
  const layer = gzipSync(tar);
  const diffId = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [diffId] } }),
  );
  const configDigest = await client.putBlob(repository, config);
  const layerDigest = await client.putBlob(repository, layer);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: "application/vnd.docker.container.image.v1+json", size: config.length, digest: configDigest },
      layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: layer.length, digest: layerDigest }],
    }),
  );
  return { mediaType: MediaType.DockerManifest, body, digest: `sha256:${createHash("sha256").update(body).digest("hex")}` };
}

function tarOfOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(content.length.toString(8).padStart(11, "0") + "\0", 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}
