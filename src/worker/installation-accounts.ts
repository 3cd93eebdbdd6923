export interface InstallationAccountsOptions {
  /** How long a login read from GitHub is trusted (default 10 minutes). */
  ttlMs?: number;
  /** At most this many installations are remembered (default 10,000); the least recently used go first. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * The account each installation belongs to, as GitHub last said, kept in this process's memory for `ttlMs`: a
 * warm build needs no `GET /app/installations/{id}` before its solve. Only a login that matches the owner the job
 * claims is taken from memory; any other answer is read again from GitHub, so a stale entry (an account renamed)
 * costs one round trip, never a wrong decision. Concurrent reads of one installation share one request.
 */
export class InstallationAccounts {
  readonly #logins = new Map<number, { login: string; until: number }>();
  readonly #reading = new Map<number, Promise<string>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: InstallationAccountsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.#now = options.now ?? Date.now;
  }

  /** The installation's account login: from memory when it is fresh and is `claimedOwner`, else `read()`. */
  async loginFor(installationId: number, claimedOwner: string, read: () => Promise<string>): Promise<string> {
    const kept = this.#logins.get(installationId);
    if (kept && kept.until > this.#now() && kept.login.toLowerCase() === claimedOwner.toLowerCase()) {
      this.#logins.delete(installationId);
      this.#logins.set(installationId, kept);
      return kept.login;
    }
    let pending = this.#reading.get(installationId);
    if (!pending) {
      pending = this.#read(installationId, read);
      this.#reading.set(installationId, pending);
    }
    return pending;
  }

  async #read(installationId: number, read: () => Promise<string>): Promise<string> {
    try {
      const login = await read();
      this.#logins.delete(installationId);
      for (const id of this.#logins.keys()) {
        if (this.#logins.size < this.#maxEntries) break;
        this.#logins.delete(id);
      }
      this.#logins.set(installationId, { login, until: this.#now() + this.#ttlMs });
      return login;
    } finally {
      this.#reading.delete(installationId);
    }
  }
}
