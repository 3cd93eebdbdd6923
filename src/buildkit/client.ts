import * as grpc from "@grpc/grpc-js";
import type { BuildRequest, BuildResult } from "./build-request.js";
import type { DaemonHealth } from "./client-health.js";
import { ENGINE_WORKER_ID, daemonInfo, listWorkers, workerInfo } from "./client-health.js";
import { channelReady } from "./transport/channel-ready.js";
import type { ConnectOptions } from "./connect-options.js";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "./connect-options.js";
import { EngineApi } from "./engine/engine-api.js";
import { askEngineFacts, engineMayBeAtLeast } from "./engine/engine-facts.js";
import type { EngineFacts } from "./engine/engine-facts.js";
import { ConnectionError, InvalidRequestError } from "./errors.js";
import type { ControlClient } from "./generated/moby/buildkit/v1/Control.js";
import type { WorkerRecord__Output } from "./generated/moby/buildkit/v1/types/WorkerRecord.js";
import { protos } from "./proto.js";
import type { DaemonCapabilities } from "./solve/daemon-capabilities.js";
import { engineBuildkitVersion, supportsGitSubdirFragment } from "./solve/daemon-capabilities.js";
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
    /** The Engine's version and image store, asked while connecting; set exactly for docker-engine:// addresses. */
    private readonly engineFacts: EngineFacts | undefined,
  ) {}

  /**
   * Connects and checks that the daemon answers, failing with a ConnectionError naming the address within
   * `connectTimeoutMs`: a `ListWorkers` call for buildkitd; for a Docker Engine its `/_ping` and the `/grpc`
   * upgrade, which are much quicker than a `ListWorkers` through the Engine (5–8 ms on 20.10, even on an open
   * connection). The address defaults to `BUILDKIT_HOST`.
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
      if (transport.address.scheme !== "docker-engine") {
        await workers;
        return new BuildKitClient(transport, control, workers, timeoutMs, undefined);
      }
      const facts = askEngineFacts(new EngineApi(transport.address.socketPath)).catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ConnectionError(transport.display, `cannot connect to BuildKit at ${transport.display}: ${reason}`, { cause: err });
      });
      const [engineFacts] = await Promise.all([facts, channelReady(control, deadline)]);
      return new BuildKitClient(transport, control, workers, timeoutMs, engineFacts);
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

  /** Which daemon answers, its workers and version. */
  async health(): Promise<DaemonHealth> {
    const deadline = (): number => Date.now() + this.timeoutMs;
    try {
      const [records, info] = await Promise.all([listWorkers(this.control, deadline()), daemonInfo(this.control, deadline())]);
      const daemon = this.daemonKind(records);
      const health: DaemonHealth = { address: this.address, daemon, workers: records.map(workerInfo), infoSupported: info !== undefined };
      const version: NonNullable<DaemonHealth["version"]> = {};
      const buildkit = info?.buildkitVersion ?? records.find((r) => r.BuildkitVersion?.version)?.BuildkitVersion;
      if (buildkit?.version) version.buildkit = buildkit.version;
      if (buildkit?.revision) version.revision = buildkit.revision;
      if (this.engineFacts) version.engine = this.engineFacts.version;
      if (Object.keys(version).length > 0) health.version = version;
      return health;
    } catch (err) {
      if (err instanceof Error && "code" in err && typeof err.code === "number") throw connectionError(this.transport, err, "health check failed");
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
        engine: this.engineApi(),
        address: this.address,
        connectionError: (err) => connectionError(this.transport, err, "lost the connection to BuildKit"),
      },
      request,
      options,
    );
  }

  /** Releases the channel and, for docker-engine addresses, the local upgrade proxy. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.control.close();
    await this.transport.close();
  }

  private engineApi(): EngineApi | undefined {
    const address = this.transport.address;
    return address.scheme === "docker-engine" ? new EngineApi(address.socketPath) : undefined;
  }

  private daemonKind(records: WorkerRecord__Output[]): DaemonHealth["daemon"] {
    return this.transport.address.scheme === "docker-engine" || records.some((r) => r.ID === ENGINE_WORKER_ID) ? "docker-engine" : "buildkitd";
  }

  private async detectCapabilities(): Promise<DaemonCapabilities> {
    const engine = this.engineFacts;
    if (engine) {
      // Worker records name the BuildKit version from BuildKit 0.11 (Engine 24) on; before, the Engine release says it.
      const records = engineMayBeAtLeast(engine.version, 24) ? await this.workers.catch(() => []) : [];
      const buildkitVersion = records.find((r) => r.BuildkitVersion?.version)?.BuildkitVersion?.version ?? engineBuildkitVersion(engine.version);
      return {
        daemon: "docker-engine",
        buildkitVersion,
        containerdImageStore: engine.containerdImageStore,
        gitSubdirFragment: supportsGitSubdirFragment(buildkitVersion),
      };
    }
    const records = await this.workers;
    const daemon = this.daemonKind(records);
    let buildkitVersion = records.find((r) => r.BuildkitVersion?.version)?.BuildkitVersion?.version;
    if (!buildkitVersion) {
      const info = await daemonInfo(this.control, Date.now() + this.timeoutMs).catch(() => undefined);
      buildkitVersion = info?.buildkitVersion?.version || undefined;
    }
    return { daemon, buildkitVersion, containerdImageStore: false, gitSubdirFragment: supportsGitSubdirFragment(buildkitVersion) };
  }
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
