import { SecretInJobDataError } from "./queue-errors.js";

/**
 * Last line of defence for "job data never holds a secret": refuses values that look like credentials
 * before they reach Redis. Shapes recognised: GitHub tokens, bearer/basic headers, PEM keys, URLs with
 * user info, JWTs.
 */
const SECRET_SHAPES: RegExp[] = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}/,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(?:bearer|basic|token)\s+[A-Za-z0-9+/=._-]{16,}/i,
  /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i,
  /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/,
];

export function findSecretPath(value: unknown, path = "$"): string | undefined {
  if (typeof value === "string") return SECRET_SHAPES.some((re) => re.test(value)) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = findSecretPath(v, `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const hit = findSecretPath(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

export function assertNoSecrets(data: unknown): void {
  const path = findSecretPath(data);
  if (path !== undefined) throw new SecretInJobDataError(path);
}
