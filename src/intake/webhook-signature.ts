import { createHmac, timingSafeEqual } from "node:crypto";
import type { Hmac } from "node:crypto";

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** The digest an `X-Hub-Signature-256` header claims, or undefined when the header is not of that form. */
export function parseSignatureHeader(header: string | undefined): Buffer | undefined {
  const hex = header === undefined ? undefined : SIGNATURE.exec(header.trim())?.[1];
  return hex === undefined ? undefined : Buffer.from(hex, "hex");
}

/**
 * HMAC-SHA256 of the raw body with the webhook secret, fed chunk by chunk while the body streams in, so the
 * check at the end costs one digest and a constant-time compare.
 */
export class SignatureCheck {
  readonly #hmac: Hmac;

  constructor(secret: string) {
    this.#hmac = createHmac("sha256", secret);
  }

  update(chunk: Buffer): void {
    this.#hmac.update(chunk);
  }

  /** Whether the body fed so far is what `expected` (from parseSignatureHeader) signs. Call once. */
  matches(expected: Buffer): boolean {
    const actual = this.#hmac.digest();
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
