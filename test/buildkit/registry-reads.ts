/** Reads of the stack's plain-HTTP registry for tests that check what a build pushed. */
import { MANIFEST_ACCEPT } from "../../src/buildkit/registry/manifest-media-types.js";

/** Every manifest kind (both image manifests and both indexes): a registry cache from BuildKit >= 0.21 is an OCI image manifest. */
export const MANIFEST_TYPES = MANIFEST_ACCEPT;

export interface Manifest {
  mediaType?: string;
  config?: { digest: string; mediaType?: string };
  layers?: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }>;
  manifests?: Array<{ digest: string; mediaType: string; platform?: { os: string; architecture: string } }>;
}

/** GETs a manifest (any of the four kinds) with its digest and content type; `headers` adds e.g. Authorization. */
export async function readManifest(
  registry: string,
  repository: string,
  reference: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; digest: string | null; contentType: string | null; manifest: Manifest }> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_TYPES, ...headers } });
  const body = await res.text();
  return {
    status: res.status,
    digest: res.headers.get("docker-content-digest"),
    contentType: res.headers.get("content-type"),
    manifest: res.ok ? (JSON.parse(body) as Manifest) : {},
  };
}

/** The image config of `repository:reference` (the linux/amd64 one of an index). */
export async function readImageConfig(
  registry: string,
  repository: string,
  reference: string,
): Promise<{ config?: { Labels?: Record<string, string> }; architecture?: string }> {
  let { manifest } = await readManifest(registry, repository, reference);
  if (manifest.manifests) {
    const amd64 = manifest.manifests.find((m) => m.platform?.architecture === "amd64") ?? manifest.manifests[0];
    if (!amd64) throw new Error(`${repository}:${reference} is an empty index`);
    manifest = (await readManifest(registry, repository, amd64.digest)).manifest;
  }
  if (!manifest.config) throw new Error(`${repository}:${reference} has no config`);
  const res = await fetch(`http://${registry}/v2/${repository}/blobs/${manifest.config.digest}`);
  if (!res.ok) throw new Error(`config blob of ${repository}:${reference}: HTTP ${res.status}`);
  return (await res.json()) as { config?: { Labels?: Record<string, string> }; architecture?: string };
}
