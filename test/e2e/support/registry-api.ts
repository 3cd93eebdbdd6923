/** Reads from a registry over its HTTP API (plain HTTP, optional basic auth), to check what the app pushed. */

export interface RegistryAuth {
  username: string;
  password: string;
}

const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

function headers(auth: RegistryAuth | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return auth ? { ...extra, authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` } : extra;
}

/** Tags of a repository; empty when the repository does not exist. */
export async function listTags(registry: string, repository: string, auth?: RegistryAuth): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repository}/tags/list`, { headers: headers(auth) });
  const body = (await res.json().catch(() => ({}))) as { tags?: string[] | null };
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`GET tags of ${registry}/${repository}: HTTP ${res.status}`);
  return body.tags ?? [];
}

/** The manifest digest the registry serves for a tag (Docker-Content-Digest), or undefined when absent. */
export async function manifestDigest(registry: string, repository: string, tag: string, auth?: RegistryAuth): Promise<string | undefined> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, { method: "HEAD", headers: headers(auth, { accept: MANIFEST_TYPES }) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`HEAD manifest ${registry}/${repository}:${tag}: HTTP ${res.status}`);
  return res.headers.get("docker-content-digest") ?? undefined;
}
