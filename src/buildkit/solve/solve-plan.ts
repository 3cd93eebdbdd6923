import { isPlatform } from "../build-options.js";
import type { BuildOutput, BuildRequest, CacheEntry } from "../build-request.js";
import { InvalidRequestError, UnsupportedByDaemonError } from "../errors.js";
import type { CacheOptionsEntry } from "../generated/moby/buildkit/v1/CacheOptionsEntry.js";
import type { SolveRequest } from "../generated/moby/buildkit/v1/SolveRequest.js";
import type { DaemonCapabilities } from "./daemon-capabilities.js";
import { parseMinorVersion } from "./daemon-capabilities.js";
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
  /** Set when the image must be pushed from the Engine's store after the solve. */
  enginePush?: { names: string[]; insecure: boolean };
  /** Local directories the daemon will ask for through FileSync. */
  localDirs?: { context: string; dockerfile: string };
  /** Client-side destination of a `local` / `tar` exporter (FileSend). */
  fileOutput?: Extract<BuildOutput, { type: "local" | "tar" }>;
  /** `type=local` caches: the OCI layouts the session's content store serves, and what to tell the user. */
  localCaches?: LocalCachePlan;
}

/** Turns a BuildRequest into the SolveRequest for the connected daemon (WIRE.md §1.3, §5, §6) — no I/O. */
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
    // Always present, even empty: some daemons dereference it unchecked (WIRE.md §1.3).
    Cache: { Exports: local.exports.map(cacheEntry), Imports: imports },
    // Old daemons read only fields 3/4, v0.13+ only field 13: send both (WIRE.md §1.3).
    Exporters: exporters,
  };
  if (first) {
    solve.Exporter = first.Type;
    solve.ExporterAttrs = first.Attrs;
  }
  return { ...plan, solve };
}

/** What the daemon would reject mid-solve with a terse message (WIRE.md §2, §6.5), refused up front instead. */
function checkCacheEntries(imports: CacheEntry[], exports: CacheEntry[], capabilities: DaemonCapabilities): void {
  const { daemon, containerdImageStore, buildkitVersion } = capabilities;
  if (daemon === "docker-engine" && !containerdImageStore) {
    const other = exports.find((e) => e.type !== "inline");
    if (other) {
      throw new UnsupportedByDaemonError(
        "cache-export",
        `this Docker Engine stores images without containerd and can only export an inline cache (type=inline), not type=${other.type}; use a standalone buildkitd for registry and local caches`,
      );
    }
    // Its BuildKit (0.8) does open a local cache, but cannot use the OCI cache manifests a current buildkitd
    // writes (every step runs again), and it exports none itself: a local import could only ever miss.
    if (imports.some((e) => e.type === "local")) {
      throw new UnsupportedByDaemonError(
        "cache-import",
        "this Docker Engine stores images without containerd and cannot import a type=local cache; use a standalone buildkitd for local caches",
      );
    }
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
  const { daemon, containerdImageStore } = ctx.capabilities;
  if (daemon === "buildkitd" || containerdImageStore) {
    const attrs: Record<string, string> = {};
    if (output.names.length > 0) attrs.name = output.names.join(",");
    if (output.push) attrs.push = "true";
    if (output.push && output.insecure) attrs["registry.insecure"] = "true";
    return [{ Type: daemon === "buildkitd" ? "image" : "moby", Attrs: attrs }];
  }
  if (platforms.length > 1) {
    throw new UnsupportedByDaemonError(
      "multi-platform-image",
      "this Docker Engine stores images without containerd and cannot export a multi-platform image; build one platform, or use a standalone buildkitd",
    );
  }
  if (!output.push) return [{ Type: "moby", Attrs: output.names.length > 0 ? { name: output.names.join(",") } : {} }];
  plan.enginePush = { names: output.names, insecure: output.insecure ?? false };
  return [{ Type: "moby", Attrs: { name: ctx.stageNames(output.names, ctx.ref).join(",") } }];
}
