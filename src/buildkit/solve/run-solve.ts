import { createHash, randomBytes } from "node:crypto";
import { posix, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { BuildRequest, BuildResult } from "../build-request.js";
import type { DaemonCapabilities } from "../daemon/daemon-capabilities.js";
import type { EngineApi } from "../engine/engine-api.js";
import { BuildCancelledError } from "../errors.js";
import type { BuildKitError, ConnectionError } from "../errors.js";
import { fileSyncService } from "../filesync/file-sync-service.js";
import type { ControlClient } from "../generated/moby/buildkit/v1/Control.js";
import type { SolveResponse__Output } from "../generated/moby/buildkit/v1/SolveResponse.js";
import type { ProgressHandler } from "../progress/events.js";
import { ProgressTracker } from "../progress/tracker.js";
import { publishFromEngine, stagedNames } from "../push/engine-publish.js";
import { finalNamesInText, pushStep } from "../push/push-step.js";
import { Redactor } from "../redact.js";
import { authService } from "../session/auth-service.js";
import { contentStoreService } from "../session/content-store-service.js";
import { healthService } from "../session/health-service.js";
import { secretsService } from "../session/secrets-service.js";
import type { SessionService } from "../session/service.js";
import { openSession } from "../session/session.js";
import { newBuildRef } from "./build-ref.js";
import { closeLocalCacheStores, lookUpLocalCaches, openLocalCacheStores, recordExportedCache } from "./local-cache.js";
import { planSolve } from "./solve-plan.js";
import { followStatus } from "./status-stream.js";

export interface SolveOptions {
  signal?: AbortSignal;
  onProgress?: ProgressHandler;
  /**
   * The Dockerfile's text, when the caller has it: lets failures point at the right lines. A promise is awaited
   * only when the build fails, so a caller can fetch the text while the build runs.
   */
  dockerfileText?: string | Promise<string | undefined>;
  /** Extra services served in the build's session, next to Health, Secrets, Auth (and FileSync/FileSend). */
  sessionServices?: SessionService[];
}

export interface SolveDependencies {
  control: ControlClient;
  capabilities: DaemonCapabilities;
  /** The Engine's HTTP API, when connected through its socket; the profile's `push: "engine-api"` needs it. */
  engine?: EngineApi;
  /** The daemon address, for messages. */
  address: string;
  /** Wraps a transport-level failure (UNAVAILABLE) as a ConnectionError naming the address. */
  connectionError: (err: unknown) => ConnectionError;
}

/** Engine 20.10 (BuildKit 0.8) once a step prints a few MB faster than it forwards them; see followStatus. */
export const LOG_LOST_WARNING =
  "The daemon stopped streaming this build's log: Docker Engine 20.10 drops a step's log once the step prints faster than it forwards it (a burst of a few MB). The log shown here ends early; the build itself goes on.";

/**
 * One build: session up, Solve + Status concurrently, session down, then (Engine image store) the push.
 * docs/buildkit-wire.md#call-order has the order.
 */
export async function runSolve(deps: SolveDependencies, request: BuildRequest, options: SolveOptions = {}): Promise<BuildResult> {
  const { signal } = options;
  const started = Date.now();
  if (signal?.aborted) throw new BuildCancelledError("build cancelled before it started", signal.reason);

  const ref = newBuildRef();
  const plan = planSolve(request, {
    ref,
    sessionId: randomBytes(16).toString("hex"),
    capabilities: deps.capabilities,
    stageNames: stagedNames,
    localCacheImports: await lookUpLocalCaches(request.cacheImports ?? []),
  });
  if (plan.enginePush && !deps.engine) {
    const refused = deps.capabilities.profile.refusal("engine-push");
    if (refused) throw refused;
  }

  const redactor = new Redactor();
  for (const value of plan.secrets.values()) redactor.add(Buffer.isBuffer(value) ? value.toString("utf8") : value);
  for (const credential of request.registryAuth ?? []) redactor.add(credential.password);
  const tracker = new ProgressTracker({
    onEvent: options.onProgress,
    redactor,
    ...(plan.enginePush && { relabel: finalNamesInText(plan.enginePush.names, ref) }),
  });
  for (const skipped of plan.localCaches?.skipped ?? []) tracker.warn(skipped);

  const services: SessionService[] = [healthService(), secretsService(plan.secrets), authService(request.registryAuth ?? [])];
  if (plan.localDirs) services.push(fileSyncService(plan.localDirs));
  // The export and failure modules load only when a build needs them: a CLI run pays for every module it loads.
  if (plan.fileOutput) services.push((await import("../export/file-send-service.js")).fileSendService(plan.fileOutput));
  const cacheStores = plan.localCaches && plan.localCaches.stores.size > 0 ? await openLocalCacheStores(plan.localCaches) : undefined;
  if (cacheStores) services.push(contentStoreService(cacheStores));
  services.push(...(options.sessionServices ?? []));

  const session = openSession(deps.control, services, {
    id: plan.solve.Session,
    ...(plan.localDirs ? { sharedKey: transferCacheKey(plan.localDirs) } : {}),
    nativeTransport: plan.localDirs !== undefined || plan.fileOutput !== undefined || cacheStores !== undefined,
  });
  let response: SolveResponse__Output;
  const solveStarted = Date.now();
  let solveMs: number;
  try {
    const solving = new Promise<SolveResponse__Output>((resolve, reject) => {
      const call = deps.control.Solve(plan.solve, (err, res) => (err ? reject(err) : resolve(res as SolveResponse__Output)));
      // Cancelling the call makes the daemon stop the build and kill running steps (docs/buildkit-wire.md#cancel).
      const abort = (): void => call.cancel();
      signal?.addEventListener("abort", abort, { once: true });
      call.on("status", () => signal?.removeEventListener("abort", abort));
    });
    const status = followStatus(
      deps.control,
      ref,
      (message) => tracker.ingest(message),
      () => tracker.warn(LOG_LOST_WARNING),
    );
    try {
      response = await solving;
    } catch (err) {
      await status.settle();
      tracker.finish();
      throw await solveFailure(err, deps, request, await dockerfileTextOf(options), options, tracker, redactor);
    } finally {
      solveMs = Date.now() - solveStarted;
    }
    await status.settle();
    try {
      if (plan.localCaches && !(await recordExportedCache(plan.localCaches, response.ExporterResponse ?? {}))) {
        tracker.warn(`the daemon named no exported cache manifest; index.json of ${plan.localCaches.exportDirs.join(", ")} was not updated`);
      }
    } finally {
      tracker.finish();
    }
  } finally {
    await session.close();
    if (cacheStores) await closeLocalCacheStores(cacheStores);
  }

  const exporterResponse = { ...response.ExporterResponse };
  let digest = exporterResponse["containerimage.digest"];
  let names = request.output?.type === "image" ? [...request.output.names] : [];
  let pushMs = 0;
  if (plan.enginePush && deps.engine) {
    const step = pushStep(options.onProgress, plan.enginePush.names);
    const published = await publishFromEngine({
      engine: deps.engine,
      names: plan.enginePush.names,
      buildRef: ref,
      credentials: request.registryAuth ?? [],
      insecure: plan.enginePush.insecure,
      signal,
      onProgress: step.line,
    }).catch((err: unknown) => {
      step.failed(err);
      throw err;
    });
    step.done();
    digest = published.digest;
    names = published.names;
    pushMs = published.pushMs;
  }
  const { total, cached, completed } = tracker.counters;
  const result: BuildResult = {
    names,
    exporterResponse,
    timings: { solveMs, pushMs, totalMs: Date.now() - started },
    steps: { total, cached, completed },
  };
  if (digest) result.digest = digest;
  return result;
}

async function dockerfileTextOf(options: SolveOptions): Promise<string | undefined> {
  try {
    return await options.dockerfileText;
  } catch {
    return undefined;
  }
}

async function solveFailure(
  err: unknown,
  deps: SolveDependencies,
  request: BuildRequest,
  dockerfileText: string | undefined,
  options: SolveOptions,
  tracker: ProgressTracker,
  redactor: Redactor,
): Promise<BuildKitError> {
  const code = (err as Partial<grpc.ServiceError>).code;
  if (options.signal?.aborted) return new BuildCancelledError("build cancelled", options.signal.reason);
  if (code === grpc.status.UNAVAILABLE) return deps.connectionError(err);
  const { classifySolveError } = await import("../failure/classify.js");
  return classifySolveError(err, {
    tracker,
    dockerfile: { path: dockerfilePath(request), text: dockerfileText },
    gitRemote: request.context.type === "git" ? request.context.remote : undefined,
    redactor,
    signal: options.signal,
    address: deps.address,
  });
}

/** The Dockerfile's path as a person finds it: from the repository root for git contexts with a subdir. */
function dockerfilePath(request: BuildRequest): string {
  const dockerfile = request.dockerfile ?? "Dockerfile";
  const subdir = request.context.type === "git" ? request.context.subdir?.replace(/^\/+|\/+$/g, "") : undefined;
  return subdir ? posix.join(subdir, dockerfile) : dockerfile;
}

/**
 * The session's shared key for local directories: stable per directory pair, so the daemon's transfer cache
 * (keyed by dir name + shared key, docs/buildkit-wire.md#transfer-cache) lets a rebuild send only the files whose
 * size, mtime or mode changed. Safe because FileSync sends real nanosecond mtimes.
 */
function transferCacheKey(dirs: { context: string; dockerfile: string }): string {
  return createHash("sha256").update(`${resolve(dirs.context)}\0${resolve(dirs.dockerfile)}`).digest("hex").slice(0, 32);
}
