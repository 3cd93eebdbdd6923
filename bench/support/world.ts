import { Queue } from "bullmq";
import type { Job } from "bullmq";
import type { BuildJob, EventJob } from "../../src/queue/job-types.js";
import { QueueName } from "../../src/queue/queue-names.js";
import { startE2E } from "../../test/e2e/support/e2e-harness.js";
import type { E2E, E2EOptions, E2ERepo } from "../../test/e2e/support/e2e-harness.js";
import type { BenchDaemon } from "./bench-daemon.js";
import { pushPayload } from "../../test/e2e/support/payloads.js";
import { TimingProxy } from "./timing-proxy.js";
import type { TimedCall } from "./timing-proxy.js";

/**
 * The e2e world (real app as child processes, private Redis, git server, fake GitHub) with a timing proxy between
 * the app and the fake GitHub, so every GitHub round trip of a build has a start and an end.
 */
export interface BenchWorld {
  e2e: E2E;
  proxy: TimingProxy;
  /**
   * Commits `files` on main, then delivers the signed push; `sentAt` is taken just before the delivery. `forced`: the
   * payload says it was a force push, so its commit list is no diff against `before` (the planner then reads the
   * config at the commit rather than taking its parent's).
   */
  push(repo: E2ERepo, files: Record<string, string>, opts?: { forced?: boolean }): Promise<{ sha: string; sentAt: number; ackedAt: number }>;
  /** The proxy's calls for one commit: repository calls naming the sha, plus the token mints in `[from, to]`. */
  callsBetween(from: number, to: number): TimedCall[];
  /** BullMQ's own timestamps for the event job of a delivery and the build job of a sha. */
  jobs(sha: string): Promise<{ event?: Job<EventJob>; build?: Job<BuildJob> }>;
  close(): Promise<void>;
}

/** The world's options, minus the daemon: `startBenchWorld` names it. */
export interface BenchWorldOptions {
  name: string;
  roles?: "all" | "split";
  env?: Record<string, string>;
  app?: E2EOptions["app"];
}

/** The world whose app builds on `daemon` (its BUILDKIT_HOST). */
export async function startBenchWorld(daemon: BenchDaemon, opts: BenchWorldOptions): Promise<BenchWorld> {
  const proxy = new TimingProxy();
  await proxy.listen();
  let e2e: E2E;
  try {
    // The harness takes the daemon as a test daemon; BUILDKIT_HOST is also given outright (the env wins).
    const options = {
      ...opts,
      daemon: { kind: daemon.kind, name: daemon.name, address: daemon.address, skip: false as const },
      env: { ...opts.env, BUILDKIT_HOST: daemon.address, GHE_HOST: proxy.host },
    };
    const e2eOptions: E2EOptions = options;
    e2e = await startE2E(e2eOptions);
  } catch (err) {
    await proxy.close();
    throw err;
  }
  proxy.target = e2e.github.url;
  const events = new Queue<EventJob>(QueueName.Events, { connection: e2e.redisClient, prefix: e2e.queuePrefix });
  const builds = new Queue<BuildJob>(QueueName.Builds, { connection: e2e.redisClient, prefix: e2e.queuePrefix });

  const contents = new Map<E2ERepo, Record<string, string>>();
  const pushed = new Map<E2ERepo, string>();
  return {
    e2e,
    proxy,
    async push(repo, files, opts = {}) {
      // As GitHub sends it: `before` is the branch head of the previous push (commits made in between without a
      // delivery, like the direct runs', count as part of this push), and only files whose content changed are listed.
      const before = pushed.get(repo) ?? repo.heads.get("main") ?? "0".repeat(40);
      const sha = await e2e.commit(repo, files);
      const known = contents.get(repo) ?? {};
      const changed = Object.keys(files).filter((path) => known[path] !== files[path]);
      contents.set(repo, { ...known, ...files });
      pushed.set(repo, sha);
      const payload = pushPayload(repo, { ref: "refs/heads/main", before, after: sha, files: changed });
      if (opts.forced) payload.forced = true;
      const sentAt = Date.now();
      await e2e.deliver("push", payload);
      return { sha, sentAt, ackedAt: Date.now() };
    },
    callsBetween(from, to) {
      return proxy.calls.filter((c) => c.start >= from && c.start <= to);
    },
    async jobs(sha) {
      const [eventJobs, buildJobs] = await Promise.all([events.getJobs(["completed", "failed", "active"]), builds.getJobs(["completed", "failed", "active"])]);
      const event = eventJobs.find((j) => j?.data.sha === sha);
      const build = buildJobs.find((j) => j?.data.sha === sha);
      return { ...(event ? { event } : {}), ...(build ? { build } : {}) };
    },
    async close() {
      await events.close().catch(() => undefined);
      await builds.close().catch(() => undefined);
      await e2e.close();
      await proxy.close();
    },
  };
}
