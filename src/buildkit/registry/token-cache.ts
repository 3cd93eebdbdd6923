/** Bearer tokens per (realm, service, scope), dropped a little before the registry's `expires_in` runs out. */
export class TokenCache {
  private readonly entries = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  /** `expiresInSeconds` defaults to 60, what the token spec says a missing `expires_in` means. */
  set(key: string, token: string, expiresInSeconds: number | undefined): void {
    const lifetimeMs = (expiresInSeconds && expiresInSeconds > 0 ? expiresInSeconds : 60) * 1000;
    const margin = Math.min(30_000, lifetimeMs / 4);
    this.entries.set(key, { token, expiresAt: this.now() + lifetimeMs - margin });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
