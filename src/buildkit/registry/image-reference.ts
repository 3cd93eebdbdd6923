import { createHash } from "node:crypto";
import { InvalidRequestError } from "../errors.js";
import type { RegistryCredential } from "../build-request.js";

/** A parsed image name, normalised the way the Docker Engine normalises it. */
export interface ImageReference {
  /** host[:port] as written, `docker.io` for Docker Hub names. */
  registry: string;
  /** Path inside the registry, e.g. `owner/app`, `library/busybox`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]);

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HOST = /^(?:\[[0-9a-fA-F:]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d+)?$/;

/** Parses `[host[:port]/]path[:tag][@digest]`; throws `InvalidRequestError` on anything the Engine would refuse. */
export function parseImageReference(name: string): ImageReference {
  let rest = name.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidRequestError(`invalid digest in image name "${name}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidRequestError(`invalid tag "${tag}" in image name "${name}"`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())) {
    registry = first;
    path = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw new InvalidRequestError(`invalid registry host "${registry}" in image name "${name}"`);
  }
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (!path.includes("/")) path = `library/${path}`;
  }
  if (path === "" || !path.split("/").every((c) => PATH_COMPONENT.test(c))) {
    throw new InvalidRequestError(`invalid repository "${path}" in image name "${name}" (lowercase letters, digits, separators)`);
  }
  if (registry.length + 1 + path.length > 255) throw new InvalidRequestError(`image name "${name}" is longer than 255 characters`);
  return { registry, repository: path, tag, digest };
}

/** `host/path` — the repository part of a name, as the Engine API's push/tag endpoints take it. */
export function fullRepository(ref: Pick<ImageReference, "registry" | "repository">): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The host that serves the registry HTTP API for `registry` (Docker Hub's API is not on docker.io itself). */
export function registryApiHost(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry) ? "registry-1.docker.io" : registry;
}

/** The credential configured for `registry`, matching Docker Hub's several spellings. */
export function credentialFor(credentials: readonly RegistryCredential[], registry: string): RegistryCredential | undefined {
  const hub = DOCKER_HUB_ALIASES.has(registry);
  return credentials.find((c) => c.host === registry || (hub && DOCKER_HUB_ALIASES.has(c.host)));
}

/** A tag made only of valid tag characters, at most `max` long, still unique for distinct inputs. */
export function toTag(prefix: string, value: string, max = 128): string {
  const cleaned = value.replace(/[^\w.-]+/g, "-");
  const exact = cleaned === value && prefix.length + cleaned.length <= max;
  if (exact) return prefix + cleaned;
  const hash = createHash("sha256").update(value).digest("hex").slice(0, 12);
  const room = max - prefix.length - hash.length - 1;
  return `${prefix}${cleaned.slice(0, Math.max(0, room))}-${hash}`.replace(/--+/g, "-");
}
