import { isPlatform } from "../build-options.js";
import type { BuildOutput, BuildRequest, CacheEntry } from "../build-request.js";
import { InvalidRequestError, UnsupportedByDaemonError } from "../errors.js";
import type { CacheOptionsEntry } from "../generated/moby/buildkit/v1/CacheOptionsEntry.js";
import type { SolveRequest } from "../generated/moby/buildkit/v1/SolveRequest.js";
import type { DaemonCapabilities } from "../daemon/daemon-capabilities.js";
import { parseMinorVersion } from "../daemon/daemon-capabilities.js";
import { gitAuthSecretId, gitContextAttrs } from "./git-context.js";
import type { LocalCacheLookup, LocalCachePlan } from "./local-cache.js";
import { planLocalCaches } from "./local-cache.js";

export interface SolvePlanContext {
  ref: string;
  sessionId: string;
  capabilities: DaemonCapabilities;
  /** One local staging name per repository for the Engine's `moby` exporter (the push module's `stagedNames`). */
  stageNames: (names: string[], buildRef: string) => string[];
  /** What `lookUpLocalCaches` found for the request's `type=local` cache imports, by `src` directory. */
  localCacheImports?: ReadonlyMap<string, LocalCacheLookup>;
}

export interface SolvePlan {
  solve: SolveRequest;
  /** Session secrets by id: build secrets plus `GIT_AUTH_TOKEN.<host>` — nothing else is served. */
  secrets: Map<string, string | Buffer>;
  /** Set when the image must be pushed from the Engine's store after the solve (the profile's `push: "engine-api"`). */
  enginePush?: { names: string[]; insecure: boolean };
  /** Local directories the daemon will ask for through FileSync. */
  localDirs?: { context: string; dockerfile: string };
  /** Client-side destination of a `local` / `tar` exporter (FileSend). */
  fileOutput?: Extract<BuildOutput, { type: "local" | "tar" }>;
  /** `type=local` caches: the OCI layouts the session's content store serves, and what to tell the user. */
  localCaches?: LocalCachePlan;
}

/**
 * Turns a BuildRequest into the SolveRequest for the connected daemon (docs/buildkit-wire.md#solve-request,
 * #dockerfile-frontend, #exporters) — no I/O.
 */
export function planSolve(request: BuildRequest, ctx: SolvePlanContext): SolvePlan {
  const dockerfile = request.dockerfile ?? "Dockerfile";
  const attrs: Record<string, string> = {};
  const secrets = new Map<string, string | Buffer>();
  const plan: Omit<SolvePlan, "solve"> = { secrets };

  if (request.context.type === "git") {
    const git = gitContextAttrs(request.context, dockerfile, ctx.capabilities.gitSubdirFragment);
    attrs.context = git.context;
    attrs.filename = git.filename;
    if (git.contextsubdir !== undefined) attrs.contextsubdir = git.contextsubdir;
    if (request.gitAuthToken) secrets.set(gitAuthSecretId(request.context.remote), request.gitAuthToken);
  } else {
    if (request.gitAuthToken) throw new InvalidRequestError("gitAuthToken is only used with a git context");
    attrs.filename = dockerfile;
    plan.localDirs = { context: request.context.dir, dockerfile: request.context.dockerfileDir ?? request.context.dir };
  }

  for (const [id, value] of Object.entries(request.secrets ?? {})) {
    if (id.startsWith("GIT_AUTH_")) throw new InvalidRequestError(`build secret id "${id}" is reserved for git authentication`);
    secrets.set(id, value);
  }
  if (request.target) attrs.target = request.target;
  for (const [name, value] of Object.entries(request.buildArgs ?? {})) attrs[`build-arg:${name}`] = value;
  for (const [name, value] of Object.entries(request.labels ?? {})) attrs[`label:${name}`] = value;
  const platforms = request.platforms ?? [];
  for (const p of platforms) if (!isPlatform(p)) throw new InvalidRequestError(`invalid platform "${p}": expected os/arch[/variant]`);
  if (platforms.length > 0) attrs.platform = platforms.join(",");
  if (request.noCache) attrs["no-cache"] = "";
  if (request.pull) attrs["image-resolve-mode"] = "pull";
  Object.assign(attrs, attestationAttrs(request, ctx.capabilities));
  checkCacheEntries(request.cacheImports ?? [], request.cacheExports ?? [], ctx.capabilities);
  const local = planLocalCaches(request.cacheImports ?? [], request.cacheExports ?? [], ctx.localCacheImports ?? new Map());
  if (local.plan) plan.localCaches = local.plan;
  const imports = local.imports.map(cacheEntry);
  if (imports.length > 0) attrs["cache-imports"] = JSON.stringify(imports);

  const exporters = exportersFor(request.output, platforms, ctx, plan);
  const first = exporters[0];
  const solve: SolveRequest = {
    Ref: ctx.ref,
    Session: ctx.sessionId,
    Frontend: "dockerfile.v0",
    FrontendAttrs: attrs,
    // Always present, even empty: some daemons dereference it unchecked (docs/buildkit-wire.md#solve-request).
    Cache: { Exports: local.exports.map(cacheEntry), Imports: imports },
    // Old daemons read only fields 3/4, v0.13+ only field 13: send both (docs/buildkit-wire.md#solve-request).
    Exporters: exporters,
  };
  if (first) {
    solve.Exporter = first.Type;
    solve.ExporterAttrs = first.Attrs;
  }
  return { ...plan, solve };
}

/**
 * `attest:provenance=mode=…` and `attest:sbom=` as buildctl's `--opt` sends them (the daemon's controller reads every
 * `attest:` frontend attribute, docs/buildkit-wire.md#dockerfile-frontend). Refused up front where they would be
 * silently dropped (BuildKit < 0.11) or could not be stored (the classic Engine store).
 */
function attestationAttrs(request: BuildRequest, capabilities: DaemonCapabilities): Record<string, string> {
  const { provenance, sbom } = request.attestations ?? {};
  if (!provenance && !sbom) return {};
  if (!capabilities.attestations) {
    throw new UnsupportedByDaemonError(
      "attestations",
      `attestations need BuildKit v0.11 or newer with an image store that holds an index; this daemon runs BuildKit ${capabilities.buildkitVersion ?? "(unknown version)"} (${capabilities.daemon})`,
    );
  }
  return { ...(provenance ? { "attest:provenance": `mode=${provenance}` } : {}), ...(sbom ? { "attest:sbom": "" } : {}) };
}

/**
 * What the daemon would reject mid-solve with a terse message (docs/buildkit-wire.md#version-matrix,
 * #cache-options), refused up front instead.
 */
function checkCacheEntries(imports: CacheEntry[], exports: CacheEntry[], capabilities: DaemonCapabilities): void {
  const { profile, buildkitVersion } = capabilities;
  for (const entry of exports) {
    const refused = profile.refusal("cache-export", entry.type);
    if (refused) throw refused;
  }
  for (const entry of imports) {
    const refused = profile.refusal("cache-import", entry.type);
    if (refused) throw refused;
  }
  const version = parseMinorVersion(buildkitVersion);
  if (exports.length > 1 && version !== undefined && version[0] === 0 && version[1] < 11) {
    throw new UnsupportedByDaemonError("multiple-cache-exports", `BuildKit ${buildkitVersion} exports one cache per build; ${exports.length} were asked for`);
  }
}

function cacheEntry(entry: CacheEntry): Required<CacheOptionsEntry> {
  return { Type: entry.type, Attrs: { ...(entry.attrs ?? {}) } };
}

function exportersFor(
  output: BuildOutput | undefined,
  platforms: string[],
  ctx: SolvePlanContext,
  plan: Omit<SolvePlan, "solve">,
): { Type: string; Attrs: Record<string, string> }[] {
  if (!output) return [];
  if (output.type === "local" || output.type === "tar") {
    plan.fileOutput = output;
    return [{ Type: output.type, Attrs: {} }];
  }
  if (output.names.length === 0 && output.push) throw new InvalidRequestError("an image push needs at least one name");
  for (const name of output.names) {
    if (!name || /[\s,]/.test(name)) throw new InvalidRequestError(`invalid image name "${name}"`);
  }
  const { profile } = ctx.capabilities;
  if (platforms.length > 1) {
    const refused = profile.refusal("multi-platform-image");
    if (refused) throw refused;
  }
  if (output.pushByDigest) {
    if (!output.push) throw new InvalidRequestError("pushByDigest needs push");
    if (profile.push === "engine-api") {
      throw new UnsupportedByDaemonError(
        "push-by-digest",
        "this Docker Engine (classic image store) cannot push an image by digest alone: it pushes from its image store by tag; a standalone buildkitd can",
      );
    }
  }
  if (output.push && profile.push === "engine-api") {
    plan.enginePush = { names: output.names, insecure: output.insecure ?? false };
    return [{ Type: profile.imageExporter, Attrs: { name: ctx.stageNames(output.names, ctx.ref).join(",") } }];
  }
  const attrs: Record<string, string> = {};
  // BuildKit refuses a tagged name with push-by-digest ("can't push tagged ref … by digest"): its repository only.
  const names = output.pushByDigest ? [...new Set(output.names.map(repositoryOf))] : output.names;
  if (names.length > 0) attrs.name = names.join(",");
  if (output.push) attrs.push = "true";
  if (output.push && output.insecure) attrs["registry.insecure"] = "true";
  if (output.pushByDigest) {
    attrs["push-by-digest"] = "true";
    attrs["name-canonical"] = "true";
  }
  return [{ Type: profile.imageExporter, Attrs: attrs }];
}

/** `host/path:tag` or `host/path@digest` → `host/path`. */
function repositoryOf(name: string): string {
  const untagged = name.split("@")[0] as string;
  const colon = untagged.lastIndexOf(":");
  return colon > untagged.lastIndexOf("/") ? untagged.slice(0, colon) : untagged;
}
