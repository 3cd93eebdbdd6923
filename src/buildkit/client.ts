import * as grpc from "@grpc/grpc-js";
import type { BuildRequest, BuildResult } from "./build-request.js";
import type { DaemonHealth } from "./client-health.js";
import { daemonInfo, listWorkers, workerInfo } from "./client-health.js";
import type { ConnectOptions } from "./connect-options.js";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "./connect-options.js";
import type { DaemonCapabilities } from "./daemon/daemon-capabilities.js";
import { daemonCapabilities } from "./daemon/daemon-capabilities.js";
import type { DaemonProfile } from "./daemon/daemon-profile.js";
import { detectBuildkitVersion, identifyDaemon } from "./daemon/identify-daemon.js";
import type { DaemonIdentity } from "./daemon/identify-daemon.js";
import { ConnectionError, InvalidRequestError } from "./errors.js";
import type { ControlClient } from "./generated/moby/buildkit/v1/Control.js";
import type { WorkerRecord__Output } from "./generated/moby/buildkit/v1/types/WorkerRecord.js";
import { protos } from "./proto.js";
import { forgetGitRemoteClone } from "./solve/git-remote-clone.js";
import type { SolveOptions } from "./solve/run-solve.js";
import { runSolve } from "./solve/run-solve.js";
import type { Transport } from "./transport/open-transport.js";
import { openTransport } from "./transport/open-transport.js";

/** A connection to one BuildKit daemon: a standalone buildkitd or a Docker Engine's embedded BuildKit. */
export class BuildKitClient {
  private capabilitiesCache: Promise<DaemonCapabilities> | undefined;
  private closed = false;

  private constructor(
    private readonly transport: Transport,
    /** The raw Control service client, for calls this class does not wrap. */
    readonly control: ControlClient,
    /** Asked while connecting; on an Engine, awaited only by what needs the records. */
    private readonly workers: Promise<WorkerRecord__Output[]>,
    private readonly timeoutMs: number,
    /** Which daemon answers: its profile, and the Engine's API when reached through it. */
    private readonly identity: DaemonIdentity,
  ) {}

  /**
   * Connects, checks that the daemon answers and chooses its profile (`identifyDaemon`), failing with a
   * ConnectionError naming the address within `connectTimeoutMs`. The address defaults to `BUILDKIT_HOST`.
   */
  static async connect(address?: string, options: ConnectOptions = {}): Promise<BuildKitClient> {
    const env = options.env ?? process.env;
    const target = address ?? env.BUILDKIT_HOST;
    if (!target) {
      throw new InvalidRequestError(
        "no BuildKit address: set BUILDKIT_HOST (e.g. docker-engine:///var/run/docker.sock, unix:///run/buildkit/buildkitd.sock, tcp://host:1234) or pass one to BuildKitClient.connect",
      );
    }
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const transport = await openTransport(target, options.tls, env);
    const Control = protos().control.moby.buildkit.v1.Control;
    const control = new Control(transport.target, transport.credentials, {
      ...transport.channelOptions,
      ...(options.interceptors ? { interceptors: options.interceptors } : {}),
    });
    const deadline = Date.now() + timeoutMs;
    const workers = listWorkers(control, deadline);
    workers.catch(() => undefined);
    try {
      const identity = await identifyDaemon(transport, control, workers, deadline);
      return new BuildKitClient(transport, control, workers, timeoutMs, identity);
    } catch (err) {
      control.close();
      await transport.close();
      throw connectionError(transport, err, "cannot connect to BuildKit");
    }
  }

  /** The daemon address, canonical form. */
  get address(): string {
    return this.transport.display;
  }

  /** How the connected kind of daemon differs from the others, chosen while connecting. */
  get profile(): DaemonProfile {
    return this.identity.profile;
  }

  /**
   * The channel's connection is up now (READY), so the client can be kept and used again without connecting. False
   * once closed, or after the daemon went away: grpc-js would reconnect on the next call, but a keeper that connects
   * afresh learns at once whether the daemon refuses, and identifies whatever daemon answers there now.
   */
  get connected(): boolean {
    return !this.closed && this.control.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  /** Which daemon answers, its workers and version. */
  async health(): Promise<DaemonHealth> {
    const deadline = (): number => Date.now() + this.timeoutMs;
    try {
      const [records, info] = await Promise.all([listWorkers(this.control, deadline()), daemonInfo(this.control, deadline())]);
      const health: DaemonHealth = { address: this.address, daemon: this.profile.daemon, workers: records.map(workerInfo), infoSupported: info !== undefined };
      const version: NonNullable<DaemonHealth["version"]> = {};
      const buildkit = info?.buildkitVersion ?? records.find((r) => r.BuildkitVersion?.version)?.BuildkitVersion;
      if (buildkit?.version) version.buildkit = buildkit.version;
      if (buildkit?.revision) version.revision = buildkit.revision;
      if (this.identity.engine) version.engine = this.identity.engine.facts.version;
      if (Object.keys(version).length > 0) health.version = version;
      return health;
    } catch (err) {
      if (isGrpcError(err)) throw connectionError(this.transport, err, "health check failed");
      throw err;
    }
  }

  /** What the daemon supports, detected once per client. */
  capabilities(): Promise<DaemonCapabilities> {
    this.capabilitiesCache ??= this.detectCapabilities();
    return this.capabilitiesCache;
  }

  /**
   * Builds `request` with the Dockerfile frontend and exports/pushes it as asked. Rejects with the BuildKitError
   * hierarchy: BuildCancelledError when `signal` aborts, ConnectionError when the daemon goes away, the classified
   * failure otherwise.
   */
  async solve(request: BuildRequest, options: SolveOptions = {}): Promise<BuildResult> {
    if (this.closed) throw new ConnectionError(this.address, `client for ${this.address} is closed`);
    const capabilities = await this.capabilities();
    return runSolve(
      {
        control: this.control,
        capabilities,
        engine: this.identity.engine?.api,
        address: this.address,
        connectionError: (err) => connectionError(this.transport, err, "lost the connection to BuildKit"),
      },
      request,
      options,
    );
  }

  /**
   * Deletes the daemon's own clone of a git remote, so that its next build of the remote clones afresh: the cure
   * for a GitCloneRefusedError whose `failure` is "damaged-cache". A clone a running build is using is left alone.
   * Resolves the ids of the cache records deleted (none when the daemon kept no clone of the remote).
   */
  async forgetGitRemote(remote: string): Promise<string[]> {
    if (this.closed) throw new ConnectionError(this.address, `client for ${this.address} is closed`);
    try {
      // A daemon with a large cache takes a while to list it: more than a connect's time.
      return await forgetGitRemoteClone(this.control, remote, () => Date.now() + Math.max(this.timeoutMs, 60_000));
    } catch (err) {
      if (isGrpcError(err)) throw connectionError(this.transport, err, "could not clear the daemon's clone");
      throw err;
    }
  }

  /** Releases the channel and, for docker-engine addresses, the local upgrade proxy. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.control.close();
    await this.transport.close();
  }

  private async detectCapabilities(): Promise<DaemonCapabilities> {
    const info = () => daemonInfo(this.control, Date.now() + this.timeoutMs);
    return daemonCapabilities(this.profile, await detectBuildkitVersion(this.identity, this.workers, info));
  }
}

/** A failed call's own error (grpc-js gives it a numeric status code), as opposed to one of ours. */
function isGrpcError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && "code" in err && typeof err.code === "number";
}

function connectionError(transport: Transport, err: unknown, what: string): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const below = transport.lastError();
  const grpcErr = err as Partial<grpc.ServiceError>;
  let reason = below?.message ?? tidyDetails(grpcErr.details ?? (err as Error).message);
  if (!below && grpcErr.code === grpc.status.DEADLINE_EXCEEDED) reason = "no answer before the connect timeout";
  if (reason === "Failed to connect") {
    reason = transport.tls
      ? "the connection was closed during setup (is the client certificate issued by a CA the daemon trusts?)"
      : "the connection was closed during setup (does the daemon expect TLS?)";
  }
  return new ConnectionError(transport.display, `${what} at ${transport.display}: ${reason}`, { cause: err });
}

/** grpc-js wraps socket errors as "No connection established. Last error: Error: connect ECONNREFUSED …". */
function tidyDetails(details: string): string {
  return details
    .replace(/^No connection established\. Last error: (Error: )?/, "")
    .replace(/\.?\s*Resolution note:\s*$/, "")
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)\s*$/, "")
    .trim();
}
