import { performance } from "node:perf_hooks";
import type { RegistryCredential } from "../build-request.js";
import type { EngineApi, PushProgressLine } from "../engine/engine-api.js";
import { BuildCancelledError, EngineApiError, InvalidRequestError, PushRefusedError } from "../errors.js";
import { credentialFor, fullRepository, parseImageReference } from "../registry/image-reference.js";
import { RegistryClient } from "../registry/registry-client.js";
import type { RegistryClientOptions } from "../registry/registry-client.js";
import { retireStagingTag } from "./staging-placeholder.js";
import { isStagingTag, stagingTag } from "./staging-tag.js";

/** One repository of the requested names, with the final tags it should end up with. */
interface RepositoryTarget {
  registry: string;
  repository: string;
  /** `registry/repository`, as the Engine names it. */
  full: string;
  tags: string[];
  staged: string;
}

function groupByRepository(names: string[], buildRef: string): RepositoryTarget[] {
  if (names.length === 0) throw new InvalidRequestError("no image names to push");
  const tag = stagingTag(buildRef);
  const targets = new Map<string, RepositoryTarget>();
  for (const name of names) {
    const ref = parseImageReference(name);
    if (ref.digest) throw new InvalidRequestError(`cannot push to "${name}": a push target needs a tag, not a digest`);
    const finalTag = ref.tag ?? "latest";
    if (isStagingTag(finalTag)) throw new InvalidRequestError(`tag "${finalTag}" is reserved for the bot's staging tags`);
    const full = fullRepository(ref);
    let target = targets.get(full);
    if (!target) {
      target = { registry: ref.registry, repository: ref.repository, full, tags: [], staged: `${full}:${tag}` };
      targets.set(full, target);
    }
    if (!target.tags.includes(finalTag)) target.tags.push(finalTag);
  }
  return [...targets.values()];
}

/**
 * The local names a build exports its image under (the `moby` exporter's `name` attr, comma-joined): one per
 * distinct repository among `names`, tagged with a staging tag unique to `buildRef`, so concurrent builds that
 * target the same final tag never overwrite each other's local image.
 */
export function stagedNames(names: string[], buildRef: string): string[] {
  return groupByRepository(names, buildRef).map((t) => t.staged);
}

export interface PublishFromEngineOptions {
  engine: EngineApi;
  /** The final names, e.g. `ghcr.io/owner/app:latest`, `ghcr.io/owner/app:sha-abc`. */
  names: string[];
  /** The same build ref that was given to `stagedNames` for the export. */
  buildRef: string;
  credentials: RegistryCredential[];
  /** Plain-HTTP registries for the manifest copies (default: only loopback hosts). */
  insecure?: boolean;
  signal?: AbortSignal;
  registryClientFactory?: (options: RegistryClientOptions) => RegistryClient;
  onProgress?: (repository: string, line: PushProgressLine) => void;
  /** Re-point the leftover staging tags at an empty placeholder and delete it where possible. Default true. */
  retireStagingTags?: boolean;
}

export interface PublishResult {
  /** The pushed manifest digest (of the first repository; all repositories on one registry share it). */
  digest: string;
  /** The final names now pointing at `digest`. */
  names: string[];
  pushMs: number;
  repositories: Array<{ repository: string; digest: string }>;
  /** Clean-up steps that did not work out (local staging names, remote staging tags); the publish itself succeeded. */
  warnings: string[];
}

/**
 * Publishes an image the Engine's `moby` exporter stored under `stagedNames(names, buildRef)`: pushes each staged
 * name through the Engine, then gives each repository its final tags by copying the pushed manifest (GET by
 * digest, PUT by tag) through the registry API. A tag therefore only ever moves to this build's own digest. The
 * local staging names are removed whatever happens.
 */
export async function publishFromEngine(opts: PublishFromEngineOptions): Promise<PublishResult> {
  const started = performance.now();
  const targets = groupByRepository(opts.names, opts.buildRef);
  const clients = new Map<string, RegistryClient>();
  const clientFor = (registry: string): RegistryClient => {
    let client = clients.get(registry);
    if (!client) {
      const credential = credentialFor(opts.credentials, registry);
      const options: RegistryClientOptions = {
        registry,
        credentials: credential ? { username: credential.username, password: credential.password } : undefined,
        insecure: opts.insecure ? true : undefined,
        signal: opts.signal,
      };
      client = opts.registryClientFactory ? opts.registryClientFactory(options) : new RegistryClient(options);
      clients.set(registry, client);
    }
    return client;
  };
  const checkCancelled = () => {
    if (opts.signal?.aborted) throw new BuildCancelledError("publish cancelled", opts.signal.reason);
  };

  const repositories: PublishResult["repositories"] = [];
  const warnings: string[] = [];
  try {
    for (const target of targets) {
      checkCancelled();
      const stagedTag = target.staged.slice(target.full.length + 1);
      const pushed = await opts.engine.pushImage(target.full, stagedTag, {
        auth: credentialFor(opts.credentials, target.registry),
        signal: opts.signal,
        onProgress: opts.onProgress ? (line) => opts.onProgress?.(target.full, line) : undefined,
      });
      checkCancelled();
      const client = clientFor(target.registry);
      const manifest = await client.getManifest(target.repository, pushed.digest);
      for (const tag of target.tags) {
        checkCancelled();
        const digest = await client.putManifest(target.repository, tag, manifest);
        if (digest !== pushed.digest) {
          throw new PushRefusedError(target.registry, `${target.full}:${tag} was stored as ${digest}, expected ${pushed.digest}`);
        }
      }
      repositories.push({ repository: target.full, digest: pushed.digest });
      if (opts.retireStagingTags !== false) warnings.push(...(await retireStagingTag(client, target.repository, stagedTag)));
    }
  } finally {
    for (const target of targets) {
      try {
        await opts.engine.removeImage(target.staged);
      } catch (err) {
        if (!(err instanceof EngineApiError && err.status === 404)) {
          warnings.push(`local staging name ${target.staged} not removed: ${(err as Error).message}`);
        }
      }
    }
  }

  assertOneDigestPerRegistry(targets, repositories);
  const first = repositories[0];
  if (!first) throw new InvalidRequestError("no image names to push");
  return {
    digest: first.digest,
    names: targets.flatMap((t) => t.tags.map((tag) => `${t.full}:${tag}`)),
    pushMs: Math.round(performance.now() - started),
    repositories,
    warnings,
  };
}

/** The Engine pushes one image identically within a registry; different digests there mean something is off. */
function assertOneDigestPerRegistry(targets: RepositoryTarget[], repositories: PublishResult["repositories"]): void {
  const byRegistry = new Map<string, string>();
  for (const [i, target] of targets.entries()) {
    const digest = repositories[i]?.digest;
    if (!digest) continue;
    const seen = byRegistry.get(target.registry);
    if (seen && seen !== digest) {
      throw new PushRefusedError(target.registry, `repositories on ${target.registry} received different digests (${seen}, ${digest}) for one image`);
    }
    byRegistry.set(target.registry, digest);
  }
}
