import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { RegistryClient } from "../registry/registry-client.js";
import { MediaType } from "../registry/manifest-media-types.js";
import { RegistryError } from "../errors.js";

/** `{}` — the OCI "empty" config blob. */
const EMPTY_CONFIG = Buffer.from("{}");
const EMPTY_CONFIG_DIGEST = `sha256:${createHash("sha256").update(EMPTY_CONFIG).digest("hex")}`;

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
    placeholder = await retryingRaces(async () => {
      const configDigest = (await client.hasBlob(repository, EMPTY_CONFIG_DIGEST).catch(() => false))
        ? EMPTY_CONFIG_DIGEST
        : await client.putBlob(repository, EMPTY_CONFIG);
      return client.putManifest(repository, tag, { mediaType: MediaType.OciManifest, body: placeholderManifest(configDigest) });
    });
  } catch (err) {
    warnings.push(`staging tag ${repository}:${tag} still points at the image: ${(err as Error).message}`);
    return warnings;
  }
  try {
    await retryingRaces(() => client.deleteManifest(repository, placeholder));
  } catch (err) {
    // Another build deleted the shared placeholder first: our tag went with it.
    if (err instanceof RegistryError && err.status === 404) return warnings;
    warnings.push(`staging tag ${repository}:${tag} kept (points at an empty placeholder): ${(err as Error).message}`);
  }
  return warnings;
}

/** Distribution's codes for a link file it read while another request was rewriting it. */
const RACED_CODES = new Set(["DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"]);
const RACE_ATTEMPTS = 5;

/**
 * Concurrent builds in one repository share the placeholder and its config blob. Distribution rewrites a link file
 * (truncating it first) on every upload of a blob or tag, and a request that reads that link in the moment — a
 * manifest put verifying its config, a delete looking up the tags to remove — answers DIGEST_INVALID; two deletes of
 * the placeholder removing the same tags answer 500 to the one that finds a tag already gone. Uploading the blob only
 * when missing narrows the window; retrying closes it (a retried delete then finds the placeholder gone: a 404).
 */
async function retryingRaces<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const raced =
        err instanceof RegistryError &&
        ((err.status === 400 && RACED_CODES.has(err.registryCode ?? "")) || (err.status !== undefined && err.status >= 500));
      if (!raced || attempt >= RACE_ATTEMPTS) throw err;
      await delay(20 * attempt + Math.random() * 20);
    }
  }
}
