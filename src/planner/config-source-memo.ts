import type { Redis } from "ioredis";
import { REPO_CONFIG_PATH } from "../config/index.js";

/**
 * What decides a commit's config: the config file's text (or only its size, when it is over the 1 MB GitHub's
 * contents API serves), else whether a root Dockerfile exists.
 */
export type ConfigSource = { kind: "file"; text: string } | { kind: "too-large"; bytes: number } | { kind: "root-dockerfile" } | { kind: "none" };

/** The files a ConfigSource is read from: a push that touches neither keeps the config of its parent. */
export const CONFIG_SOURCE_PATHS: readonly string[] = [REPO_CONFIG_PATH, "Dockerfile"];

const TTL_SECONDS = 7 * 24 * 3600;
/** Config files are small; a larger text is simply read again next time rather than kept. */
const MAX_TEXT_BYTES = 64 * 1024;

/**
 * Whose memo an entry is: the installation and the repository the event named (a repository id alone would let an
 * entry outlive a transfer to another installation).
 */
export interface MemoScope {
  installationId: number;
  repoId: number;
}

/**
 * The config source of recent commits, per installation and repository, so that a push whose listed changes leave
 * both files alone can take its parent's source instead of asking GitHub again: one round trip less in front of most
 * builds. Only what was read from the repository at that very commit, or inherited by a push GitHub says changed
 * neither file, is written; a fork's pull request (read at its base branch) writes nothing.
 */
export class ConfigSourceMemo {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "bkb",
  ) {}

  async get(at: MemoScope, sha: string): Promise<ConfigSource | undefined> {
    // Only a shortcut: when Redis cannot answer, the config is read from GitHub as it would be without it.
    const raw = await this.redis.get(this.key(at, sha)).catch(() => null);
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as ConfigSource;
      if (parsed.kind === "file" && typeof parsed.text === "string") return parsed;
      if (parsed.kind === "root-dockerfile" || parsed.kind === "none") return { kind: parsed.kind };
    } catch {
      // A damaged entry is read again from GitHub.
    }
    return undefined;
  }

  async put(at: MemoScope, sha: string, source: ConfigSource): Promise<void> {
    if (source.kind === "file" && Buffer.byteLength(source.text) > MAX_TEXT_BYTES) return;
    await this.redis.set(this.key(at, sha), JSON.stringify(source), "EX", TTL_SECONDS).catch(() => undefined);
  }

  private key(at: MemoScope, sha: string): string {
    return `${this.prefix}:cfgsrc:${at.installationId}:${at.repoId}:${sha}`;
  }
}

/** Whether a push's complete list of changed files leaves the config source as it was at `before`. */
export function keepsConfigSource(changedFiles: readonly string[]): boolean {
  return !changedFiles.some((file) => CONFIG_SOURCE_PATHS.includes(file));
}
