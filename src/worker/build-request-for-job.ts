import { posix } from "node:path";
import type { BuildRequest, CacheEntry, DaemonCapabilities, RegistryCredential } from "@buildkit-bot/buildkit";
import type { BuildJob } from "../queue/index.js";
import type { TenantRegistry } from "../tenancy/index.js";

export interface JobRequestOptions {
  /** Read-only token for the repository; absent for fork pull requests (they clone anonymously). */
  gitToken?: string;
  registry: TenantRegistry;
  capabilities: DaemonCapabilities;
  /** Build secrets by id, checked against the tenants (secret-guard.ts); never given to a fork's build. */
  buildSecrets?: Record<string, string>;
}

export interface JobRequest {
  request: BuildRequest;
  /** The planned tags this build pushes (empty when it pushes nothing). */
  pushTags: string[];
  /** Said in the build log: how the cache plan had to be adapted to the daemon. */
  notes: string[];
}

/** `127.x`, `localhost` and `::1` registries are reached over plain HTTP (as the Docker daemon does by default). */
export function isLoopbackRegistry(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** The Dockerfile path relative to the build context, as the daemon looks it up (the plan's path is from the repository root). */
export function dockerfileInContext(context: string, dockerfile: string): string {
  const subdir = posix.normalize(context || ".");
  return subdir === "." ? posix.normalize(dockerfile) : posix.relative(subdir, posix.normalize(dockerfile));
}

/**
 * The BuildKit request for one build job: the git context at the exact commit (or the PR ref for forks), the
 * planned tags pushed with the account's registry credentials (the tenants policy's registry), and the cache plan in the form the daemon can do.
 * Fork pull requests never push, never export cache and get no credentials of any kind.
 */
export function buildRequestForJob(job: BuildJob, opts: JobRequestOptions): JobRequest {
  const image = job.image;
  const fork = job.fork;
  const notes: string[] = [];
  const subdir = posix.normalize(image.context || ".").replace(/\/+$/, "") || ".";
  const request: BuildRequest = {
    context: { type: "git", remote: job.repository.cloneUrl, ref: job.gitRef, ...(subdir === "." ? {} : { subdir }) },
    dockerfile: dockerfileInContext(image.context, image.dockerfile),
  };
  if (opts.gitToken && !fork) request.gitAuthToken = opts.gitToken;
  if (opts.buildSecrets && !fork && Object.keys(opts.buildSecrets).length > 0) request.secrets = { ...opts.buildSecrets };
  if (image.target) request.target = image.target;
  if (image.platforms.length > 0) request.platforms = [...image.platforms];
  if (Object.keys(image.buildArgs).length > 0) request.buildArgs = { ...image.buildArgs };
  if (job.noCache) request.noCache = true;

  // BuildKit v0.12+ takes `registry.insecure` on a cache entry; older versions ignore it and need buildkitd.toml.
  const { profile } = opts.capabilities;
  const insecureCache = (ref: string): Record<string, string> =>
    profile.loopbackRegistryNeedsInsecureFlag && isLoopbackRegistry(ref.split("/")[0] ?? "") ? { "registry.insecure": "true" } : {};
  const imports: CacheEntry[] = job.noCache ? [] : image.cache.imports.map((ref) => ({ type: "registry", attrs: { ref, ...insecureCache(ref) } }));
  if (imports.length > 0) request.cacheImports = imports;

  const pushTags = image.push && !fork ? [...image.tags] : [];
  const names = [...pushTags];
  const cacheRef = fork ? undefined : image.cache.export;
  if (cacheRef) {
    if (profile.exportsCache("registry")) {
      request.cacheExports = [{ type: "registry", attrs: { ref: cacheRef, mode: "max", ...insecureCache(cacheRef) } }];
    } else {
      // An inline cache travels inside the image config, so the image is also pushed under the cache tag, where
      // the next build's import looks for it.
      request.cacheExports = [{ type: "inline" }];
      if (!names.includes(cacheRef)) names.push(cacheRef);
      notes.push(`cache: ${profile.cacheExportLimit ?? "this daemon cannot export a registry cache"}; the image is also pushed as ${cacheRef} to carry it`);
    }
  }
  if (names.length > 0) {
    request.output = { type: "image", names, push: true };
    if (names.every((n) => isLoopbackRegistry(n.split("/")[0] ?? ""))) request.output.insecure = true;
  }
  const credentials = opts.registry.credentials;
  if (!fork && credentials) {
    const auth: RegistryCredential = { host: opts.registry.host, username: credentials.username, password: credentials.password };
    request.registryAuth = [auth];
  }
  return { request, pushTags, notes };
}
