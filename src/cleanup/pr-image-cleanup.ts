import type { Redis } from "ioredis";
import { appKey } from "../queue/index.js";
import { retireTags } from "@buildkit-bot/buildkit";
import type { RetiredTag, RetireTagsOptions } from "@buildkit-bot/buildkit";
import { isInNamespaces } from "../tenancy/index.js";
import { tagOfRef } from "./ref-tag.js";
import type { Tenants } from "../tenancy/index.js";
import { TransientError } from "../errors/index.js";
import type { PrImageRecord, PrImageRecords, PullRequestKey } from "./pr-image-records.js";

export interface CleanupLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PrImageCleanupDeps {
  records: PrImageRecords;
  /** For the refusal notes (`<prefix>:bkb:registry-deletes-refused`). */
  redis: Redis;
  prefix: string;
  /** Each account's registry, credentials and namespaces, looked up by installation. */
  tenants: Tenants;
  log: CleanupLog;
  /** Tests: where the registry client comes from. */
  retire?: (opts: RetireTagsOptions) => Promise<RetiredTag[]>;
}

/** What one clean-up of one pull request did. */
export interface PrCleanupReport {
  pr: string;
  deleted: string[];
  /** Refs left alone, with why (moved, outside the account's namespaces, registry refuses deletes, …). */
  left: Array<{ ref: string; why: string }>;
  /** Registries that refuse deletes: nothing was asked of them this time. */
  skippedRefusing?: string[];
}

/** A registry's refusal to delete, as kept in Redis and shown to the operator. */
export interface DeleteRefusal {
  registry: string;
  since: string;
  detail: string;
}

/**
 * Deletes the `pr-N` tags and `buildcache-pr-N` cache refs a pull request's builds wrote, from what the records
 * say they wrote: never a name the records do not hold, never a ref outside the installation's own namespaces (as
 * its tenancy policy says now), and an image tag only while it still points at a digest those builds pushed. Each
 * tag goes through `retireTags`, which deletes only the tag's own placeholder, never the image's digest, so a branch
 * or release tag on the same image stays.
 *
 * A registry that refuses deletes is noted once in Redis (for every process) and logged once; until a sweep finds it
 * accepting deletes again, clean-ups leave its refs recorded and ask it nothing.
 */
export class PrImageCleanup {
  private readonly refusedKey: string;
  private readonly retire: (opts: RetireTagsOptions) => Promise<RetiredTag[]>;

  constructor(private readonly deps: PrImageCleanupDeps) {
    this.refusedKey = appKey(deps.prefix, "registry-deletes-refused");
    this.retire = deps.retire ?? retireTags;
  }

  /**
   * Cleans one pull request (closed, or found by the sweep). Registries noted as refusing deletes are not asked,
   * except one not yet in `probe` (the sweep's, so each pass asks each of them once and a registry whose deletes were
   * turned on is noticed). Throws a transient error when a registry failed in a way a retry may fix; what was done
   * stays done.
   */
  async cleanPullRequest(key: PullRequestKey, opts: { probe?: Set<string> } = {}): Promise<PrCleanupReport> {
    const report: PrCleanupReport = { pr: `${key.installationId}:${key.repoId}#${key.pr}`, deleted: [], left: [] };
    const record = await this.deps.records.of(key);
    if (!record) return report;
    const { inside, outside } = this.withinNamespaces(record);
    for (const ref of outside) report.left.push({ ref, why: "not in the installation's namespaces: never touched" });

    const refusing = await this.refusals();
    const probing = new Set(inside.map((r) => hostOf(r.ref)).filter((host) => refusing.has(host) && opts.probe && !opts.probe.has(host)));
    for (const host of probing) opts.probe?.add(host);
    const asked = inside.filter((r) => !refusing.has(hostOf(r.ref)) || probing.has(hostOf(r.ref)));
    const skipped = [...new Set(inside.filter((r) => !asked.includes(r)).map((r) => hostOf(r.ref)))];
    if (skipped.length > 0) report.skippedRefusing = skipped;

    const results = asked.length === 0 ? [] : await this.retire({ tags: asked.map((r) => ({ name: r.ref, ...(r.kind === "image" ? { expect: r.digests } : {}) })), credentials: credentialsOf(this.deps.tenants, record) });
    const done: string[] = [...outside];
    let transient: RetiredTag | undefined;
    const accepted = new Set<string>();
    for (const result of results) {
      const host = hostOf(result.name);
      switch (result.outcome) {
        case "deleted":
        case "absent":
          report.deleted.push(result.name);
          done.push(result.name);
          accepted.add(host);
          break;
        case "moved":
          // Someone else's image now: not ours to delete, and never will be.
          report.left.push({ ref: result.name, why: result.detail ?? "moved" });
          done.push(result.name);
          break;
        case "refused":
          report.left.push({ ref: result.name, why: `the registry refuses deletes: ${result.detail ?? ""}` });
          await this.noteRefusal(host, result.detail ?? "deletes refused");
          break;
        default:
          report.left.push({ ref: result.name, why: result.detail ?? result.outcome });
          if (result.transient) transient = result;
          // Not transient (a 400, a placeholder stored as other bytes): trying again would do the same.
          else done.push(result.name);
      }
    }
    for (const host of accepted) if (refusing.has(host)) await this.clearRefusal(host);
    await this.deps.records.forget(key, done);
    if (transient) throw new TransientError(`PR image clean-up of ${report.pr}: ${transient.name}: ${transient.detail ?? "registry failure"}`);
    return report;
  }

  /**
   * Cleans every pull request whose builds last wrote more than `ttlMs` ago, open or closed, at most `limit` of
   * them per pass. A pull request that fails stays recorded for the next pass.
   */
  async sweep(ttlMs: number, opts: { now?: number; limit?: number } = {}): Promise<{ cleaned: PrCleanupReport[]; failed: number }> {
    const before = (opts.now ?? Date.now()) - ttlMs;
    const keys = await this.deps.records.lastPushedBefore(before, opts.limit ?? 1000);
    const cleaned: PrCleanupReport[] = [];
    let failed = 0;
    // A registry that refuses deletes is asked once per pass: the first pull request on it asks, the others follow.
    const probe = new Set<string>();
    for (const key of keys) {
      try {
        cleaned.push(await this.cleanPullRequest(key, { probe }));
      } catch (err) {
        failed++;
        this.deps.log.warn({ pr: `${key.installationId}:${key.repoId}#${key.pr}`, err: err instanceof Error ? err.message : String(err) }, "PR image sweep: clean-up failed; tried again next pass");
      }
    }
    return { cleaned, failed };
  }

  /** The registries noted as refusing deletes: what the operator is shown. */
  async refusalList(): Promise<DeleteRefusal[]> {
    return [...(await this.refusals()).values()];
  }

  private async refusals(): Promise<Map<string, DeleteRefusal>> {
    const all = await this.deps.redis.hgetall(this.refusedKey);
    const out = new Map<string, DeleteRefusal>();
    for (const [registry, value] of Object.entries(all)) {
      try {
        const parsed = JSON.parse(value) as { since?: string; detail?: string };
        out.set(registry, { registry, since: parsed.since ?? "", detail: parsed.detail ?? "" });
      } catch {
        out.set(registry, { registry, since: "", detail: value });
      }
    }
    return out;
  }

  private async noteRefusal(registry: string, detail: string): Promise<void> {
    const first = await this.deps.redis.hsetnx(this.refusedKey, registry, JSON.stringify({ since: new Date().toISOString(), detail }));
    if (first === 1) {
      this.deps.log.warn(
        { registry, detail },
        `registry ${registry} refuses deletes: closed pull requests' pr-N tags and caches stay until it allows them ` +
          "(Distribution: REGISTRY_STORAGE_DELETE_ENABLED=true). Asked again once per sweep, not reported again",
      );
    }
  }

  private async clearRefusal(registry: string): Promise<void> {
    if ((await this.deps.redis.hdel(this.refusedKey, registry)) === 1) {
      this.deps.log.info({ registry }, `registry ${registry} accepts deletes again: PR image clean-up resumes`);
    }
  }

  private withinNamespaces(record: PrImageRecord): { inside: PrImageRecord["refs"]; outside: string[] } {
    const policy = this.deps.tenants.policyFor({ accountLogin: record.owner, installationId: record.installationId });
    const namespaces = policy.served ? policy.namespaces : [];
    const ownTag = new Set([`pr-${record.pr}`, `buildcache-pr-${record.pr}`]);
    const inside: PrImageRecord["refs"] = [];
    const outside: string[] = [];
    for (const ref of record.refs) {
      if (isInNamespaces(ref.ref, namespaces) && ownTag.has(tagOfRef(ref.ref))) inside.push(ref);
      else outside.push(ref.ref);
    }
    return { inside, outside };
  }
}

function hostOf(ref: string): string {
  return ref.split("/")[0] ?? "";
}

function credentialsOf(tenants: Tenants, record: PrImageRecord): RetireTagsOptions["credentials"] {
  const policy = tenants.policyFor({ accountLogin: record.owner, installationId: record.installationId });
  if (!policy.served || !policy.registry.credentials) return [];
  const { username, password } = policy.registry.credentials;
  return [{ host: policy.registry.host, username, password }];
}
