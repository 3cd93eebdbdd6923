import type { RegistryClient } from "../registry/registry-client.js";
import { MediaType } from "../registry/manifest-media-types.js";
import { RegistryError } from "../errors.js";

/** `{}` — the OCI "empty" config blob. */
const EMPTY_CONFIG = Buffer.from("{}");

/**
 * A manifest with no layers that only says what it is. The same bytes for every build, so staging tags re-pointed
 * at it share one tiny manifest instead of each keeping a whole image alive.
 */
export function placeholderManifest(configDigest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: EMPTY_CONFIG.length },
      layers: [],
      annotations: { "org.opencontainers.image.description": "buildkit-bot staging tag placeholder; safe to delete" },
    }),
  );
}

/**
 * Registries cannot delete a tag (Distribution 2.x answers DIGEST_INVALID), and the Engine can only push a local
 * name under its own tag, so the staging tag cannot be avoided. What can be done: point it at the placeholder, so it
 * no longer pins the real image (retention and garbage collection see the image only through its final tags), then
 * delete the placeholder by digest, which removes the staging tag with it where the registry allows deletes.
 * Returns what could not be done; never throws.
 */
export async function retireStagingTag(client: RegistryClient, repository: string, tag: string): Promise<string[]> {
  const warnings: string[] = [];
  let placeholder: string;
  try {
    const configDigest = await client.putBlob(repository, EMPTY_CONFIG);
    placeholder = await client.putManifest(repository, tag, { mediaType: MediaType.OciManifest, body: placeholderManifest(configDigest) });
  } catch (err) {
    warnings.push(`staging tag ${repository}:${tag} still points at the image: ${(err as Error).message}`);
    return warnings;
  }
  try {
    await client.deleteManifest(repository, placeholder);
  } catch (err) {
    // Another build deleted the shared placeholder first: our tag went with it.
    if (err instanceof RegistryError && err.status === 404) return warnings;
    warnings.push(`staging tag ${repository}:${tag} kept (points at an empty placeholder): ${(err as Error).message}`);
  }
  return warnings;
}
