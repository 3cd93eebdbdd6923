/** What a token is for: one installation, one repository, one set of permissions (e.g. `{ contents: "read" }`). */
export interface TokenScope {
  installationId: number;
  repositoryId: number;
  permissions: Readonly<Record<string, "read" | "write">>;
}

/** A token as GitHub minted it: `expiresAt` from its `expires_at` (ms since the epoch), undefined when it gave none. */
export interface MintedToken {
  token: string;
  expiresAt: number | undefined;
}

/**
 * A token handed out by the cache. The token itself is a getter over a private field, so logging or serialising a
 * lease (pino, JSON.stringify, util.inspect) never shows it.
 */
export class TokenLease {
  readonly #token: string;
  constructor(
    token: string,
    readonly key: string,
    /** Minted for this request (true) or taken from the cache (false). */
    readonly fresh: boolean,
  ) {
    this.#token = token;
  }
  get token(): string {
    return this.#token;
  }
  toJSON(): Record<string, unknown> {
    return { key: this.key, fresh: this.fresh };
  }
}

export interface TokenCacheOptions {
  /** Tokens are used until this long before GitHub's `expires_at` (default 5 minutes). */
  marginMs?: number;
  /** At most this many tokens are kept (default 1,000); the expired go first, then the least recently used. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  token: string;
  usableUntil: number;
}

const FIVE_MINUTES_MS = 5 * 60_000;

/**
 * Installation tokens kept in this process's memory only, by installation, repository and permission set, until
 * `marginMs` before they expire: a warm build gets its token without a round trip to GitHub. Never written to
 * Redis, job data or disk. Concurrent requests for the same scope share one mint; a failed mint is not kept.
 * A token GitHub or git refused is dropped (`refused`), so the next request mints a fresh one.
 */
export class InstallationTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #minting = new Map<string, Promise<MintedToken>>();
  readonly #marginMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.#marginMs = options.marginMs ?? FIVE_MINUTES_MS;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 1_000);
    this.#now = options.now ?? Date.now;
  }

  /** The cached token of `scope` while it is usable, else the one `mint` gets (shared by concurrent callers). */
  async get(scope: TokenScope, mint: () => Promise<MintedToken>): Promise<TokenLease> {
    const key = tokenKey(scope);
    const cached = this.#entries.get(key);
    if (cached && cached.usableUntil > this.#now()) {
      // Most recently used last: eviction takes from the front.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return new TokenLease(cached.token, key, false);
    }
    if (cached) this.#entries.delete(key);
    let pending = this.#minting.get(key);
    if (!pending) {
      pending = this.#mint(key, mint);
      this.#minting.set(key, pending);
    }
    const minted = await pending;
    return new TokenLease(minted.token, key, true);
  }

  /** Forgets the token GitHub or git refused; a newer token of the same scope (minted meanwhile) is kept. */
  refused(lease: Pick<TokenLease, "key" | "token">): void {
    if (this.#entries.get(lease.key)?.token === lease.token) this.#entries.delete(lease.key);
  }

  /** Forgets whatever token is kept for `scope`. */
  drop(scope: TokenScope): void {
    this.#entries.delete(tokenKey(scope));
  }

  /** How many tokens are kept (usable or not yet evicted). */
  get size(): number {
    return this.#entries.size;
  }

  async #mint(key: string, mint: () => Promise<MintedToken>): Promise<MintedToken> {
    try {
      const minted = await mint();
      const usableUntil = minted.expiresAt === undefined ? 0 : minted.expiresAt - this.#marginMs;
      if (usableUntil > this.#now()) this.#keep(key, { token: minted.token, usableUntil });
      return minted;
    } finally {
      this.#minting.delete(key);
    }
  }

  #keep(key: string, entry: Entry): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const now = this.#now();
      for (const [k, e] of this.#entries) if (e.usableUntil <= now) this.#entries.delete(k);
    }
    for (const k of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(k);
    }
    this.#entries.set(key, entry);
  }
}

/** `installation/repository/permission=level,…` with the permissions sorted: equal scopes share one key. */
export function tokenKey(scope: TokenScope): string {
  const permissions = Object.entries(scope.permissions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, level]) => `${name}=${level}`)
    .join(",");
  return `${scope.installationId}/${scope.repositoryId}/${permissions}`;
}
