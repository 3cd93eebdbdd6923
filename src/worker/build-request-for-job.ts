import { posix } from "node:path";
import type { BuildRequest, CacheEntry, DaemonCapabilities, RegistryCredential } from "@buildkit-bot/buildkit";
import { dockerfileInContext } from "../config/index.js";
import type { BuildJob } from "../queue/index.js";
import type { TenantRegistry } from "../tenancy/index.js";
import { requestAttestations } from "./provenance.js";

export interface JobRequestOptions {
  /** Read-only token for the repository; absent for fork pull requests (they clone anonymously). */
  gitToken?: string;
  registry: TenantRegistry;
  capabilities: DaemonCapabilities;
  /** Build secrets by id, checked against the tenants (secret-guard.ts); never given to a fork's build. */
  buildSecrets?: Record<string, string>;
  /** When the image is built (its `org.opencontainers.image.created`); default now. */
  now?: Date;
}

export interface JobRequest {
  request: BuildRequest;
  /** The planned tags this build pushes (empty when it pushes nothing). */
  pushTags: string[];
  /** Said in the build log: how the cache plan had to be adapted to the daemon. */
  notes: string[];
  /** Said once in the check run: the config's `checks.fail_on` could not be applied on this daemon. */
  checksNote?: string;
}

/**
 * Dockerfile build checks came with BuildKit v0.14 (Dockerfile frontend 1.8). True only when the daemon's version is
 * known to be older (an Engine's is derived from its own version, e.g. 20.10 → v0.8).
 */
function runsNoChecks(buildkitVersion: string | undefined): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(buildkitVersion ?? "");
  return m !== null && Number(m[1]) === 0 && Number(m[2]) < 14;
}

/** `127.x`, `localhost` and `::1` registries are reached over plain HTTP (as the Docker daemon does by default). */
export function isLoopbackRegistry(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export { dockerfileInContext };

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
  const buildArgs = { ...image.buildArgs };
  let checksNote: string | undefined;
  if (image.checksFailOn === "warning") {
    // The repository's own BUILDKIT_DOCKERFILE_CHECK (e.g. `skip=…`) is kept; only `error=true` is added to it.
    const own = buildArgs[DOCKERFILE_CHECK_ARG];
    if (!own || !/(^|;)\s*error=/.test(own)) buildArgs[DOCKERFILE_CHECK_ARG] = own ? `${own};error=true` : "error=true";
    if (runsNoChecks(opts.capabilities.buildkitVersion)) {
      checksNote = `Dockerfile build checks need BuildKit v0.14 or newer; this builder runs BuildKit ${opts.capabilities.buildkitVersion ?? "?"} (${opts.capabilities.daemon}), so \`checks.fail_on: warning\` was not applied.`;
      notes.push(`checks: ${checksNote}`);
    }
  }
  if (Object.keys(buildArgs).length > 0) request.buildArgs = buildArgs;
  request.labels = { ...ociLabels(job, opts.now ?? new Date()), ...image.labels };
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
  const attestationsNote = requestAttestations(job, request, opts.capabilities);
  if (attestationsNote) notes.push(`attestations: ${attestationsNote}`);
  return { request, pushTags, notes, ...(checksNote ? { checksNote } : {}) };
}

const DOCKERFILE_CHECK_ARG = "BUILDKIT_DOCKERFILE_CHECK";

/**
 * The OCI annotations every image carries as labels, as docker/metadata-action sets them: the repository's web
 * address (its clone URL without `.git`), the commit built and when. The config's own labels override them.
 */
function ociLabels(job: BuildJob, now: Date): Record<string, string> {
  return {
    "org.opencontainers.image.source": job.repository.cloneUrl.replace(/\.git$/, ""),
    "org.opencontainers.image.revision": job.sha,
    "org.opencontainers.image.created": now.toISOString(),
  };
}
