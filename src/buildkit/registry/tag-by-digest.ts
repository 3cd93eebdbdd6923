import { InvalidRequestError, PushRefusedError } from "../errors.js";
import { fullRepository, parseImageReference } from "./image-reference.js";
import { registryClientFor } from "./client-for.js";
import type { RegistryAccess } from "./client-for.js";

export interface TagByDigestOptions extends RegistryAccess {
  /** The manifest (or index) already pushed, e.g. the solve's `containerimage.digest`. */
  digest: string;
  /** The names to point at it, e.g. `ghcr.io/owner/app:latest`; each repository must already hold `digest`. */
  names: readonly string[];
}

/**
 * Points more tags at an image that is already in the registry, without the daemon: per repository, GET the
 * manifest by digest (with every manifest and index media type accepted) and PUT the same bytes under each tag, so
 * the tags get exactly that digest. Nothing is pushed when a name is invalid. Errors are `RegistryError`s (the
 * registry refused, without credentials in them) or a `PushRefusedError` when a tag was stored as another digest.
 */
export async function tagByDigest(opts: TagByDigestOptions): Promise<string[]> {
  const byRepository = new Map<string, { registry: string; repository: string; tags: string[] }>();
  for (const name of opts.names) {
    const ref = parseImageReference(name);
    if (ref.digest || !ref.tag) throw new InvalidRequestError(`cannot tag "${name}": a tag is needed, not a digest`);
    const full = fullRepository(ref);
    const entry = byRepository.get(full) ?? { registry: ref.registry, repository: ref.repository, tags: [] };
    if (!entry.tags.includes(ref.tag)) entry.tags.push(ref.tag);
    byRepository.set(full, entry);
  }
  const tagged: string[] = [];
  for (const [full, target] of byRepository) {
    const client = registryClientFor(target.registry, opts);
    const manifest = await client.getManifest(target.repository, opts.digest);
    for (const tag of target.tags) {
      const stored = await client.putManifest(target.repository, tag, manifest);
      if (stored !== opts.digest) throw new PushRefusedError(target.registry, `${full}:${tag} was stored as ${stored}, expected ${opts.digest}`);
      tagged.push(`${full}:${tag}`);
    }
  }
  return tagged;
}
