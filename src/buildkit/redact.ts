/** What every redacted secret is replaced with. */
export const REDACTED = "***";

/** Shorter values are ignored: replacing 1–3 character strings would shred ordinary text. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Replaces secrets in text before it is logged, stored or shown. Besides the raw value it catches the
 * encodings a secret travels in: base64 (standard and URL-safe, with and without padding) and the base64 of
 * `x-access-token:<secret>`, which is what a git `Authorization: basic …` header carries (docs/buildkit-wire.md#git-auth).
 *
 * The combined pattern is rebuilt only when a secret is added, so `redact` is one regex pass per call.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(secrets?: Iterable<string>) {
    for (const secret of secrets ?? []) this.addForms(secret);
    this.rebuild();
  }

  add(secret: string): void {
    if (this.addForms(secret)) this.rebuild();
  }

  redact(text: string): string {
    if (this.pattern === undefined || text.length === 0) return text;
    return text.replace(this.pattern, REDACTED);
  }

  /** Number of distinct forms searched for (for tests and diagnostics). */
  get size(): number {
    return this.secrets.size;
  }

  private addForms(secret: string): boolean {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) return false;
    const before = this.secrets.size;
    for (const form of secretForms(secret)) {
      if (form.length >= MIN_SECRET_LENGTH) this.secrets.add(form);
    }
    return this.secrets.size !== before;
  }

  private rebuild(): void {
    if (this.secrets.size === 0) {
      this.pattern = undefined;
      return;
    }
    // Longest first, so a padded base64 form wins over its unpadded prefix.
    const alternatives = [...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(alternatives.join("|"), "g");
  }
}

function secretForms(secret: string): string[] {
  const forms = [secret];
  const uriEncoded = encodeURIComponent(secret);
  if (uriEncoded !== secret) forms.push(uriEncoded);
  for (const plain of [secret, `x-access-token:${secret}`]) {
    const std = Buffer.from(plain, "utf8").toString("base64");
    const stdBare = std.replace(/=+$/, "");
    const url = stdBare.replace(/\+/g, "-").replace(/\//g, "_");
    forms.push(std, stdBare, url, url + std.slice(stdBare.length));
  }
  return forms;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
