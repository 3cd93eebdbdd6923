import { InvalidRequestError, RegistryError } from "../errors.js";
import { registryClientFor } from "./client-for.js";
import type { RegistryAccess } from "./client-for.js";
import { parseImageReference } from "./image-reference.js";
import { MediaType } from "./manifest-media-types.js";
import type { RegistryClient } from "./registry-client.js";

export interface ImageLayer {
  digest: string;
  /** Compressed, as pushed (the manifest's descriptor size). */
  size: number;
  /** The image history's `created_by` of the step that made the layer, e.g. `COPY app /app # buildkit`. */
  createdBy?: string;
}

export interface PlatformLayers {
  /** `os/arch[/variant]`. */
  platform: string;
  /** The platform's own manifest. */
  digest: string;
  layers: ImageLayer[];
  /** The layers' compressed sizes added up. */
  size: number;
}

export interface ImageLayers {
  /** What the name points at: a manifest, or an index. */
  digest: string;
  /** One per platform, in the index's order; attestation manifests (`unknown/unknown`) are left out. */
  platforms: PlatformLayers[];
}

export interface ReadImageLayersOptions extends RegistryAccess {
  /** `host/repository:tag` or `host/repository@digest`. */
  name: string;
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);
/** More platforms than any real index has: a bound on the requests one read makes. */
const MAX_PLATFORMS = 32;

interface Descriptor {
  mediaType?: string;
  digest?: unknown;
  size?: unknown;
  platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
}

/**
 * The layers of an image as its registry holds them, per platform: each layer's compressed size and the Dockerfile
 * instruction that made it (paired from the config's `history`, whose `empty_layer` entries made no layer). An
 * index's `unknown/unknown` entries (attestation manifests) are skipped. `undefined` when the name does not exist;
 * other failures are `RegistryError`s (without credentials).
 */
export async function readImageLayers(opts: ReadImageLayersOptions): Promise<ImageLayers | undefined> {
  const ref = parseImageReference(opts.name);
  const reference = ref.digest ?? ref.tag;
  if (!reference) throw new InvalidRequestError(`cannot read "${opts.name}": a tag or a digest is needed`);
  const client = registryClientFor(ref.registry, opts);
  let top;
  try {
    top = await client.getManifest(ref.repository, reference);
  } catch (err) {
    if (err instanceof RegistryError && err.status === 404) return undefined;
    throw err;
  }
  const parsed = parseJson(top.body, client, `${opts.name}'s manifest`) as { manifests?: Descriptor[] };
  if (!INDEX_TYPES.has(top.mediaType) && !Array.isArray(parsed.manifests)) {
    return { digest: top.digest, platforms: [await platformLayers(client, ref.repository, top.digest, parsed, undefined)] };
  }
  const entries = (parsed.manifests ?? []).filter((m) => {
    const platform = platformOf(m.platform);
    return typeof m.digest === "string" && platform !== undefined && platform !== "unknown/unknown" && !INDEX_TYPES.has(m.mediaType ?? "");
  });
  // One platform's manifest and config after the other, the platforms side by side.
  const platforms = await Promise.all(
    entries.slice(0, MAX_PLATFORMS).map(async (entry) => {
      const digest = entry.digest as string;
      const manifest = await client.getManifest(ref.repository, digest);
      return platformLayers(client, ref.repository, digest, parseJson(manifest.body, client, `manifest ${digest}`), platformOf(entry.platform));
    }),
  );
  return { digest: top.digest, platforms };
}

async function platformLayers(client: RegistryClient, repository: string, digest: string, manifest: unknown, platform: string | undefined): Promise<PlatformLayers> {
  const { config, layers } = manifest as { config?: Descriptor; layers?: Descriptor[] };
  if (!Array.isArray(layers) || typeof config?.digest !== "string") {
    throw new RegistryError(client.registry, 200, `${client.registry}: manifest ${digest} is not an image manifest (no config or layers)`);
  }
  const image = parseJson(await client.getBlob(repository, config.digest), client, `image config ${config.digest}`) as {
    os?: unknown;
    architecture?: unknown;
    variant?: unknown;
    history?: Array<{ created_by?: unknown; empty_layer?: unknown }>;
  };
  const instructions = (Array.isArray(image.history) ? image.history : [])
    .filter((h) => h.empty_layer !== true)
    .map((h) => (typeof h.created_by === "string" ? h.created_by : undefined));
  const out: ImageLayer[] = layers.map((layer, i) => {
    const createdBy = instructions[i];
    return { digest: String(layer.digest), size: sizeOf(layer.size), ...(createdBy ? { createdBy } : {}) };
  });
  return {
    platform: platform ?? platformOf(image) ?? "unknown",
    digest,
    layers: out,
    size: out.reduce((sum, l) => sum + l.size, 0),
  };
}

function platformOf(p: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined): string | undefined {
  if (!p || typeof p.os !== "string" || typeof p.architecture !== "string") return undefined;
  return [p.os, p.architecture, ...(typeof p.variant === "string" && p.variant ? [p.variant] : [])].join("/");
}

function sizeOf(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

function parseJson(body: Buffer, client: RegistryClient, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString("utf8")) as unknown;
    if (value && typeof value === "object") return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new RegistryError(client.registry, 200, `${client.registry}: ${what} is not valid JSON`);
}
