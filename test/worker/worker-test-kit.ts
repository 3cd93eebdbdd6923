import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { Redis } from "ioredis";
import { pino } from "pino";
import type { Logger } from "probot";
import type { BuildJob } from "../../src/queue/job-types.js";
import type { FakeGitHub } from "../support/fake-github/index.js";

/** Shared pieces of the worker tests (not a test file itself). */

export const unique = (): string => randomBytes(5).toString("hex");

/** The installation tokens the fake GitHub minted for one repository (the worker's git tokens), in order. */
export function repositoryTokens(fake: Pick<FakeGitHub, "tokens">, repoId: number): Array<{ token: string; requested: unknown; repositories?: ReadonlySet<string> | undefined }> {
  return [...fake.tokens.values()].filter((t) => (t.requested as { repository_ids?: number[] } | undefined)?.repository_ids?.includes(repoId));
}

/** A pino logger whose output lands in memory, as text. */
export function captureLog(): { logger: Logger; text(): string } {
  let raw = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream) as unknown as Logger, text: () => raw };
}

/** Every value stored under `prefix` (strings, hashes, streams, sets, lists), as one text. */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      out.push(key);
      if (type === "string") out.push(String(await redis.get(key)));
      else if (type === "hash") out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === "stream") out.push(JSON.stringify(await redis.xrange(key, "-", "+")));
      else if (type === "zset") out.push(JSON.stringify(await redis.zrange(key, 0, -1, "WITHSCORES")));
      else if (type === "list") out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === "set") out.push(JSON.stringify(await redis.smembers(key)));
    }
  } while (cursor !== "0");
  return out.join("\n");
}

/** Every manifest type the pushes here make: images and indexes, Docker's and OCI's. */
const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

/** The manifest digest the registry serves for `name:tag`, or undefined when it has none. */
export async function registryDigest(registry: string, repository: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, { method: "HEAD", headers: { accept: MANIFEST_TYPES } });
  return res.ok ? (res.headers.get("docker-content-digest") ?? undefined) : undefined;
}

/** A manifest (`manifests/<ref>`) or JSON blob (`blobs/<digest>`) of `repository`, which must be there. */
export async function registryJson(registry: string, repository: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${registry}/v2/${repository}/${path}`, { headers: { accept: MANIFEST_TYPES } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Tags the registry has for a repository (empty when the repository does not exist). */
export async function registryTags(registry: string, repository: string): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repository}/tags/list`);
  if (!res.ok) return [];
  return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
}

export function buildJob(fields: {
  buildId?: string;
  installationId: number;
  repoId: number;
  owner: string;
  repo: string;
  private: boolean;
  cloneUrl: string;
  sha: string;
  gitRef?: string;
  /** Omitted: the build was queued before its run existed, and gets its id through the handoff. */
  checkRunId?: number;
  image?: Partial<BuildJob["image"]>;
  fork?: boolean;
  pullRequest?: BuildJob["pullRequest"];
}): BuildJob {
  return {
    buildId: fields.buildId ?? `bld-${fields.installationId}-test-${unique()}`,
    attempt: 1,
    reason: fields.fork ? "pull_request" : "push",
    repository: {
      installationId: fields.installationId,
      repoId: fields.repoId,
      owner: fields.owner,
      repo: fields.repo,
      private: fields.private,
      defaultBranch: "main",
      cloneUrl: fields.cloneUrl,
    },
    sha: fields.sha,
    gitRef: fields.gitRef ?? fields.sha,
    image: {
      name: "app",
      context: "",
      dockerfile: "Dockerfile",
      platforms: [],
      buildArgs: {},
      tags: [],
      push: false,
      cache: { imports: [] },
      ...fields.image,
    },
    ...(fields.checkRunId !== undefined ? { checkRunId: fields.checkRunId } : {}),
    supersedeKey: "",
    noCache: false,
    fork: fields.fork ?? false,
    ...(fields.pullRequest ? { pullRequest: fields.pullRequest } : {}),
    queuedAt: new Date().toISOString(),
  };
}
