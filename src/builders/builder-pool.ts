import { BuildKitClient, ConnectionError } from "@buildkit-bot/buildkit";
import type { ConnectOptions } from "@buildkit-bot/buildkit";
import type { Redis } from "ioredis";
import { LeaseSet, liveLeases } from "../leases/index.js";
import type { BuildersConfig, BuilderSpec } from "./builders-file.js";
import { chooseBuilder, servesPlatform } from "./choose-builder.js";
import type { BuilderCandidate, BuilderChoice, SplitChoice } from "./choose-builder.js";
import { BuilderUnservableError, NoBuilderAvailableError } from "./builder-errors.js";
import { builderNamesKey, runningBuildsKey } from "./running-builds.js";

export type ChooseBuilder = (key: string, required: readonly string[], candidates: readonly BuilderCandidate[]) => BuilderChoice;

export interface PoolLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface BuilderPoolOptions {
  config: BuildersConfig;
  /** Shared by every worker process: who is draining, and the builds running on each builder. */
  redis: Redis;
  prefix: string;
  log?: PoolLog;
  /** Default: `chooseBuilder` (consistent hashing with bounded loads). */
  choose?: ChooseBuilder;
  connectTimeoutMs?: number;
  /** How long a running build's hold on a builder lasts unless renewed (a dead worker's hold then lapses). Default 60 s. */
  leaseTtlMs?: number;
  /** How often a build waiting for a full builder looks again (at once when a build of this process gives one back). Default 1 s. */
  busyPollMs?: number;
  /** A build moved off a builder: it refused the build's connection, or died under the build (for metrics). */
  onFailover?(builder: string, kind: "refused" | "lost"): void;
}

/** One builder as the operations issue reads it. */
export interface BuilderSnapshot {
  name: string;
  address: string;
  labels: Record<string, string>;
  available: boolean;
  draining: boolean;
  running: number;
  maxConcurrent: number | undefined;
  platforms: string[];
  /** Why it is unavailable (the last probe's or connection's error). */
  lastError?: string;
  /** ISO time of the last probe that answered. */
  lastSeenAt?: string;
}

/**
 * A builder held for one build: the builder's kept connection, and the slot to give back (`release`, also on
 * failure). The connection is the pool's: the build never closes it.
 */
export interface BuilderLease {
  name: string;
  client: BuildKitClient;
  /** Builders skipped on the way (refused the connection), for the build's log. */
  skipped: Array<{ name: string; reason: string }>;
  /** The builder an earlier attempt of this build lost (see `lost`), if any. */
  lostBefore?: string;
  release(): Promise<void>;
}

export interface BuilderRequest {
  /** The build's id: its hold on a builder is counted under it. */
  buildId: string;
  /** What keeps a repository's image on the same builder (installation/repository/image). */
  key: string;
  /** Platforms the build needs; empty: the builder's own. */
  platforms: readonly string[];
}

/**
 * One builder's open connection, shared by its builds and its probes: one gRPC channel, one HTTP/2 connection that
 * carries every build's solve, status and session streams at once. Connecting costs tens of milliseconds (a
 * handshake, then identifying the daemon), up to hundreds under load, which every build used to pay before its solve.
 */
interface KeptClient {
  client: Promise<BuildKitClient>;
  /** Builds and probes using it now. */
  users: number;
  /** No longer the builder's: closed when its last user is done. */
  dropped: boolean;
  /** Set once connected. */
  settled?: BuildKitClient;
}

interface BuilderState {
  spec: BuilderSpec;
  kept?: KeptClient;
  available: boolean;
  probed: boolean;
  failures: number;
  platforms: string[];
  lastError?: string;
  lastSeenAt?: number;
}

/**
 * The builders of this deployment at run time: each one's platforms (ListWorkers, narrowed by the file), its health
 * (probed every interval; unavailable after `failuresBeforeUnavailable` failed probes or a refused connection, back
 * on the next probe that answers), whether an operator drains it, and the builds running on it.
 *
 * Health is each process's own view (what this process can reach). Draining and running builds live in Redis, so
 * every worker process on every machine sees the same: a drain takes effect on the next choice everywhere, and
 * `max_concurrent_builds` holds across processes. A hold is a lease renewed while the build runs, so a SIGKILLed
 * worker's builds stop counting after `leaseTtlMs`.
 */
export class BuilderPool {
  readonly #o: Required<Pick<BuilderPoolOptions, "leaseTtlMs" | "busyPollMs">> & BuilderPoolOptions;
  readonly #states: BuilderState[];
  readonly #choose: ChooseBuilder;
  readonly #log: PoolLog;
  #timer: NodeJS.Timeout | undefined;
  #firstProbe: Promise<void> | undefined;
  #probing: Promise<void> | undefined;
  /** This process's builds waiting for a full builder: each looks again the moment one of its builds gives a builder back. */
  readonly #waiting = new Set<() => void>();
  /** Every kept connection not yet closed (dropped ones still in use included), for `close`. */
  readonly #open = new Set<KeptClient>();
  /** Slots `mustWait` found free and took for a build, by build id → builder, until its `acquire` adopts one or `unreserve`. */
  readonly #reserved = new Map<string, string>();
  #closed = false;

  constructor(options: BuilderPoolOptions) {
    this.#o = { leaseTtlMs: 60_000, busyPollMs: 1_000, ...options };
    this.#states = options.config.builders.map((spec) => ({ spec, available: false, probed: false, failures: 0, platforms: [] }));
    this.#choose = options.choose ?? ((key, required, candidates) => chooseBuilder(key, required, candidates));
    this.#log = options.log ?? { info: () => {}, warn: () => {} };
  }

  get names(): string[] {
    return this.#states.map((s) => s.spec.name);
  }

  /** Probes every builder now and then every interval, in the background. */
  start(): void {
    if (this.#timer) return;
    this.#firstProbe ??= this.probe();
    this.#timer = setInterval(() => void this.probe(), this.#o.config.healthIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops probing and closes every builder's connection, in use or not; the pool connects nothing afterwards. */
  async close(): Promise<void> {
    this.stop();
    this.#closed = true;
    for (const state of this.#states) delete state.kept;
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(open.map(async (kept) => (await kept.client.catch(() => undefined))?.close().catch(() => undefined)));
  }

  /** One probe of every builder at once (a probe already under way is joined). */
  probe(): Promise<void> {
    // Names every process of the deployment can read the running builds under (runningPerBuilder).
    if (!this.#probing && this.#states.length > 0) this.#o.redis.sadd(builderNamesKey(this.#o.prefix), ...this.names).catch(() => undefined);
    this.#probing ??= Promise.all(this.#states.map((s) => this.#probeOne(s))).then(
      () => {
        this.#probing = undefined;
      },
      () => {
        this.#probing = undefined;
      },
    );
    return this.#probing;
  }

  async #probeOne(state: BuilderState): Promise<void> {
    let use: { client: BuildKitClient; done(): void } | undefined;
    try {
      use = await this.#use(state);
      const health = await use.client.health();
      const reported = [...new Set(health.workers.flatMap((w) => w.platforms))];
      const allowed = state.spec.platforms;
      state.platforms = allowed ? reported.filter((p) => allowed.includes(p)) : reported;
      state.failures = 0;
      state.lastSeenAt = Date.now();
      delete state.lastError;
      if (!state.available) {
        state.available = true;
        this.#log.info({ builder: state.spec.name, platforms: state.platforms }, `builder ${state.spec.name} is available${state.probed ? " again" : ""}`);
      }
    } catch (err) {
      // The next build or probe connects afresh (builds running on this connection keep it until they end).
      this.#drop(state);
      state.failures++;
      state.lastError = errorText(err);
      if (state.available && state.failures >= this.#o.config.failuresBeforeUnavailable) this.#markUnavailable(state, state.lastError);
      else if (!state.probed) this.#log.warn({ builder: state.spec.name, err: state.lastError }, `builder ${state.spec.name} is unavailable`);
    } finally {
      state.probed = true;
      use?.done();
    }
  }

  /** Marks a builder unavailable at once (it refused a connection or was lost mid-build); the next probe that answers brings it back. */
  markUnavailable(name: string, reason: string): void {
    const state = this.#states.find((s) => s.spec.name === name);
    if (!state) return;
    this.#drop(state);
    state.failures = Math.max(state.failures, this.#o.config.failuresBeforeUnavailable);
    state.lastError = reason;
    if (state.available) this.#markUnavailable(state, reason);
  }

  #markUnavailable(state: BuilderState, reason: string): void {
    this.#drop(state);
    state.available = false;
    this.#log.warn({ builder: state.spec.name, err: reason }, `builder ${state.spec.name} is unavailable`);
  }

  /**
   * A build's builder died under it: marks it unavailable, and remembers it for the build's next attempt (in Redis,
   * since the retry may run in another process). Returns the builder the retry would be given now, if any.
   */
  async lost(request: BuilderRequest, name: string, reason: string): Promise<string | undefined> {
    this.markUnavailable(name, reason);
    this.#o.onFailover?.(name, "lost");
    await this.#o.redis.set(this.#lostKey(request.buildId), name, "EX", 86_400).catch(() => undefined);
    const shared = await this.#shared().catch(() => undefined);
    if (!shared) return undefined;
    const choice = this.#chooseFor(request, this.#candidates(shared));
    return choice.kind === "chosen" ? choice.name : undefined;
  }

  /** Stops giving `name` new builds, in every process; its running builds finish. */
  async drain(name: string): Promise<void> {
    this.#known(name);
    await this.#o.redis.hset(this.#drainKey(), name, new Date().toISOString());
    this.#log.info({ builder: name }, `builder ${name} is draining`);
  }

  async undrain(name: string): Promise<void> {
    this.#known(name);
    await this.#o.redis.hdel(this.#drainKey(), name);
    this.#log.info({ builder: name }, `builder ${name} takes builds again`);
  }

  /** Every builder's state: health, draining, running builds (all processes), platforms. */
  async snapshot(): Promise<BuilderSnapshot[]> {
    const shared = await this.#shared();
    return this.#states.map((s) => ({
      name: s.spec.name,
      address: s.spec.address,
      labels: { ...s.spec.labels },
      available: s.available,
      draining: shared.draining.has(s.spec.name),
      running: shared.running.get(s.spec.name) ?? 0,
      maxConcurrent: s.spec.maxConcurrentBuilds,
      platforms: [...s.platforms],
      ...(s.lastError !== undefined && !s.available ? { lastError: s.lastError } : {}),
      ...(s.lastSeenAt !== undefined ? { lastSeenAt: new Date(s.lastSeenAt).toISOString() } : {}),
    }));
  }

  /**
   * A builder for the build, held and connected. A builder that refuses the connection is marked unavailable and
   * skipped (no attempt is spent); while every builder that serves the platforms is full, it waits (no attempt is
   * spent either). Throws BuilderUnservableError when no healthy builder serves a platform, NoBuilderAvailableError
   * (transient) when the builders that might are unavailable.
   */
  async acquire(request: BuilderRequest, signal?: AbortSignal): Promise<BuilderLease> {
    if (!this.#firstProbe) this.start();
    await this.#firstProbe;
    const skipped: BuilderLease["skipped"] = [];
    let probedAgain = false;
    let reserved = await this.#adoptable(request.buildId);
    /** Whether an earlier attempt lost its builder: read (and cleared) once, alongside the first hold. */
    let lostBefore: Promise<string | null> | undefined;
    for (;;) {
      signal?.throwIfAborted();
      let candidates: BuilderCandidate[] = [];
      let choice: BuilderChoice;
      if (reserved !== undefined) {
        choice = { kind: "chosen", name: reserved };
        reserved = undefined;
      } else {
        candidates = this.#candidates(await this.#shared());
        choice = this.#chooseFor(request, candidates);
      }
      if (choice.kind === "busy") {
        await this.#roomOrPoll(signal);
        continue;
      }
      if (choice.kind === "unservable") {
        const down = candidates.filter((c) => !c.available && !c.draining);
        if (down.length > 0 && !probedAgain) {
          // A builder may have come back since its last probe: look once more before giving up the attempt.
          probedAgain = true;
          await this.probe();
          continue;
        }
        // Permanent only when no builder left out now (unavailable or draining) might serve what is missing.
        const missing = choice.platforms;
        const mightServe = candidates.filter((c) => {
          if (c.available && !c.draining) return false;
          // A builder that never answered may serve anything the file allows it.
          const state = this.#stateOf(c.name);
          const possible = state.lastSeenAt !== undefined ? c.platforms : state.spec.platforms;
          return missing.length === 0 || possible === undefined || missing.some((p) => servesPlatform(possible, p));
        });
        if (mightServe.length > 0) {
          const outOfService = mightServe.map((c) =>
            c.draining ? { name: c.name, draining: true } : { name: c.name, draining: false, reason: skipped.find((s) => s.name === c.name)?.reason ?? this.#stateOf(c.name).lastError ?? "it has not answered yet" },
          );
          throw new NoBuilderAvailableError(missing.length > 0 ? missing : request.platforms, outOfService);
        }
        throw new BuilderUnservableError(choice.platforms.length > 0 ? choice.platforms : [...request.platforms]);
      }
      const state = this.#stateOf(choice.name);
      lostBefore ??= this.#o.redis.getdel(this.#lostKey(request.buildId)).catch(() => null);
      const releaseSlot = await this.#hold(state.spec, request.buildId);
      if (!releaseSlot) continue; // another process took the last slot first: choose again
      try {
        const use = await this.#use(state);
        let released: Promise<void> | undefined;
        const release = (): Promise<void> => {
          use.done();
          released ??= releaseSlot().then(() => this.#wakeWaiting());
          return released;
        };
        const lost = await lostBefore;
        return { name: state.spec.name, client: use.client, skipped, ...(lost ? { lostBefore: lost } : {}), release };
      } catch (err) {
        await releaseSlot();
        this.#wakeWaiting();
        if (!(err instanceof ConnectionError)) throw err;
        const reason = errorText(err);
        this.markUnavailable(state.spec.name, reason);
        this.#o.onFailover?.(state.spec.name, "refused");
        skipped.push({ name: state.spec.name, reason });
      }
    }
  }

  /**
   * How a multi-platform build no single usable builder serves would be split: each platform and the builder the
   * choice gives it (several may share one). Undefined when there is nothing to split: one builder serves them all
   * (or would, once one has room), or some platform has no usable builder at all (then `acquire` says which).
   * While a platform's builders are all full it waits, spending no attempt.
   *
   * A part is pushed by digest, which a Docker Engine (classic image store) cannot do: parts go to standalone
   * buildkitd builders whenever those serve every platform (waiting for one rather than failing on the Engine), and
   * to an Engine only for a platform nothing else serves, where the part then fails saying why.
   */
  async splitFor(request: BuilderRequest, signal?: AbortSignal): Promise<Record<string, string> | undefined> {
    if (new Set(request.platforms).size < 2) return undefined;
    if (!this.#firstProbe) this.start();
    await this.#firstProbe;
    for (;;) {
      signal?.throwIfAborted();
      const candidates = this.#candidates(await this.#shared());
      if (this.#chooseFor(request, candidates).kind !== "unservable") return undefined;
      const choice = this.#splitChoice(request, candidates);
      if (choice.kind === "split") {
        // Its parts hold slots of their own: a slot `mustWait` took for the whole build goes back.
        await this.unreserve(request.buildId);
        return choice.byPlatform;
      }
      if (choice.kind !== "busy") return undefined;
      await this.#roomOrPoll(signal);
    }
  }

  /** The split `splitFor` would make now: digest-pushing builders first, an Engine only for what nothing else serves. */
  #splitChoice(request: BuilderRequest, candidates: BuilderCandidate[]): BuilderChoice | SplitChoice {
    const digestPushers = candidates.filter((c) => !this.#stateOf(c.name).spec.address.startsWith("docker-engine:"));
    const preferred = chooseBuilder(request.key, request.platforms, digestPushers, { split: true });
    return preferred.kind === "unservable" ? chooseBuilder(request.key, request.platforms, candidates, { split: true }) : preferred;
  }

  /**
   * Why the build would wait for a slot now (every builder that may take it is at its max_concurrent_builds; for a
   * build no single builder serves, every builder of one of its platforms), or undefined when one has room, or when
   * it can go nowhere (`acquire` then says why). The slot found free on a
   * bounded builder is taken for the build at once, so two processes that look in the same instant do not both
   * go on: the one that loses the last slot is told to wait here (and gives its worker slot back) instead of
   * polling in `acquire` inside its worker slot. The build's `acquire` adopts the slot; `unreserve` gives back one
   * that no `acquire` took, and, unrenewed, it lapses after the lease TTL anyway.
   */
  async mustWait(request: BuilderRequest): Promise<string | undefined> {
    // Without a max_concurrent_builds no builder is ever full: nothing to ask Redis.
    if (this.#states.every((s) => s.spec.maxConcurrentBuilds === undefined)) return undefined;
    if (!this.#firstProbe) this.start();
    await this.#firstProbe;
    await this.unreserve(request.buildId);
    // Another process may take the slot between the count and the take: the choice is made again, a few times.
    for (let tries = 0; tries < 3; tries++) {
      const candidates = this.#candidates(await this.#shared());
      const choice = this.#chooseFor(request, candidates);
      if (choice.kind === "busy") break;
      // A split's parts take their slots when it starts (acquireSplit); here it only learns whether it would wait.
      if (choice.kind === "unservable" && new Set(request.platforms).size > 1 && this.#splitChoice(request, candidates).kind === "busy") break;
      if (choice.kind !== "chosen") return undefined;
      const max = this.#stateOf(choice.name).spec.maxConcurrentBuilds;
      if (max === undefined) return undefined;
      if (await this.#slots(choice.name).acquire(request.buildId, max)) {
        this.#reserved.set(request.buildId, choice.name);
        return undefined;
      }
    }
    return `every builder that may take it${request.platforms.length > 0 ? ` (${request.platforms.join(", ")})` : ""} is running its max_concurrent_builds`;
  }

  /** Gives back the slot `mustWait` took for the build when no `acquire` adopted it (the build went no further). */
  async unreserve(buildId: string): Promise<void> {
    const name = this.#reserved.get(buildId);
    if (name === undefined) return;
    this.#reserved.delete(buildId);
    await this.#slots(name).release(buildId);
    this.#wakeWaiting();
  }

  /** The builder `mustWait` took a slot on for the build, when it may still be used; an unusable one's slot is given back. */
  async #adoptable(buildId: string): Promise<string | undefined> {
    const name = this.#reserved.get(buildId);
    if (name === undefined) return undefined;
    this.#reserved.delete(buildId);
    const shared = await this.#shared().catch(() => undefined);
    if (this.#stateOf(name).available && shared && !shared.draining.has(name)) return name;
    await this.#slots(name).release(buildId).catch(() => undefined);
    return undefined;
  }

  /**
   * The builder for `request` among `candidates`: first among those whose ListWorkers names every platform. When none
   * does (ListWorkers names what a daemon runs natively or through emulation it knows of), a builder the file does not
   * narrow may still build it, as a lone BUILDKIT_HOST always did: `FROM scratch` + COPY needs no emulation, and a
   * daemon's own multi-platform limits are its profile's to say.
   */
  #chooseFor(request: BuilderRequest, candidates: BuilderCandidate[]): BuilderChoice {
    const listed = this.#choose(request.key, request.platforms, candidates);
    if (listed.kind !== "unservable" || request.platforms.length === 0) return listed;
    const unlisted = candidates.map((c) => ({ ...c, platforms: this.#stateOf(c.name).spec.platforms ?? request.platforms }));
    const fallback = this.#choose(request.key, request.platforms, unlisted);
    return fallback.kind === "unservable" ? listed : fallback;
  }

  #candidates(shared: { draining: Set<string>; running: Map<string, number> }): BuilderCandidate[] {
    return this.#states.map((s) => ({
      name: s.spec.name,
      platforms: s.platforms,
      available: s.available,
      draining: shared.draining.has(s.spec.name),
      running: shared.running.get(s.spec.name) ?? 0,
      maxConcurrent: s.spec.maxConcurrentBuilds,
    }));
  }

  /**
   * Waits until a build of this process gives a builder back, or `busyPollMs` passed (a slot another process frees is
   * seen at the next look).
   */
  #roomOrPoll(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", aborted);
        this.#waiting.delete(done);
        resolve();
      };
      const aborted = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        reject(signal?.reason);
      };
      const timer = setTimeout(done, this.#o.busyPollMs);
      this.#waiting.add(done);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }

  #wakeWaiting(): void {
    for (const wake of [...this.#waiting]) wake();
  }

  /**
   * Holds a slot of `spec` for the build (a lease, renewed until released); undefined when it is full. A slot the
   * build already holds (taken by `mustWait`) is kept, whatever the count.
   */
  #hold(spec: BuilderSpec, buildId: string): Promise<(() => Promise<void>) | undefined> {
    return this.#slots(spec.name).hold(buildId, spec.maxConcurrentBuilds ?? 0);
  }

  #slots(name: string): LeaseSet {
    return new LeaseSet(this.#o.redis, this.#runningKey(name), this.#o.leaseTtlMs);
  }

  async #shared(): Promise<{ draining: Set<string>; running: Map<string, number> }> {
    const live = liveLeases();
    const pipeline = this.#o.redis.pipeline().hkeys(this.#drainKey());
    for (const s of this.#states) pipeline.zcount(this.#runningKey(s.spec.name), ...live);
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const draining = new Set((results[0]?.[1] as string[] | undefined) ?? []);
    const running = new Map(this.#states.map((s, i) => [s.spec.name, Number(results[i + 1]?.[1] ?? 0)]));
    return { draining, running };
  }

  /**
   * The builder's kept connection, for one build or probe (`done` when finished). Kept only while its channel is
   * READY: once the daemon went away (killed, restarted, its address down) the next use connects afresh, so a
   * daemon that refuses is known before the solve (a skip, not a lost build), and a restarted one is identified again.
   */
  async #use(state: BuilderState): Promise<{ client: BuildKitClient; done(): void }> {
    if (this.#closed) throw new Error("the builder pool is closed");
    if (state.kept?.settled && !state.kept.settled.connected) this.#drop(state);
    let kept = state.kept;
    if (!kept) {
      const fresh: KeptClient = { client: this.#connect(state.spec), users: 0, dropped: false };
      void fresh.client.then(
        (client) => {
          fresh.settled = client;
          // The pool closed, or the builder was dropped, while it connected.
          if (this.#closed || (fresh.dropped && fresh.users === 0)) this.#closeKept(fresh);
        },
        () => this.#forget(state, fresh),
      );
      this.#open.add(fresh);
      state.kept = kept = fresh;
    }
    const used = kept;
    used.users++;
    let client: BuildKitClient;
    try {
      client = await used.client;
    } catch (err) {
      used.users--;
      throw err;
    }
    let finished = false;
    return {
      client,
      done: () => {
        if (finished) return;
        finished = true;
        used.users--;
        if (used.dropped && used.users === 0) this.#closeKept(used);
      },
    };
  }

  /** The builder's connection is no longer handed out; it closes when the builds using it are done. */
  #drop(state: BuilderState): void {
    const kept = state.kept;
    if (!kept) return;
    delete state.kept;
    kept.dropped = true;
    if (kept.users === 0 && kept.settled) this.#closeKept(kept);
  }

  #forget(state: BuilderState, kept: KeptClient): void {
    if (state.kept === kept) delete state.kept;
    this.#open.delete(kept);
  }

  #closeKept(kept: KeptClient): void {
    this.#open.delete(kept);
    kept.settled?.close().catch(() => undefined);
  }

  #connect(spec: BuilderSpec): Promise<BuildKitClient> {
    const options: ConnectOptions = {
      ...(spec.tls ? { tls: spec.tls } : {}),
      ...(this.#o.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.#o.connectTimeoutMs } : {}),
      // A builder of the file gets TLS from the file alone, never from BUILDKIT_TLS_*.
      ...(spec.tlsFromEnv ? {} : { env: {} }),
    };
    return BuildKitClient.connect(spec.address, options);
  }

  #stateOf(name: string): BuilderState {
    const state = this.#states.find((s) => s.spec.name === name);
    if (!state) throw new Error(`internal: the choice named an unknown builder "${name}"`);
    return state;
  }

  #known(name: string): void {
    if (!this.#states.some((s) => s.spec.name === name)) throw new RangeError(`no builder is named "${name}" (builders: ${this.names.join(", ")})`);
  }

  #drainKey(): string {
    return `${this.#o.prefix}:builders:draining`;
  }

  #lostKey(buildId: string): string {
    return `${this.#o.prefix}:builders:lost:${buildId}`;
  }

  #runningKey(name: string): string {
    return runningBuildsKey(this.#o.prefix, name);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
