import { createPublicKey, verify, type KeyObject } from "node:crypto";

export type JwtCheck = { ok: true } | { ok: false; reason: string };

/** GitHub accepts app JWTs that expire at most 10 minutes ahead; a little slack for clock drift. */
const MAX_LIFETIME_S = 600 + 60;
const CLOCK_DRIFT_S = 60;

function decodeJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

/** Verifies an app JWT the way GitHub does: RS256 signature by the app's key, `iss` = app id, sane `iat`/`exp`. */
export function verifyAppJwt(jwt: string, appId: number, publicKey: KeyObject | string, nowS = Date.now() / 1000): JwtCheck {
  const parts = jwt.split(".");
  if (parts.length !== 3) return { ok: false, reason: "not a JWT" };
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: unknown };
  let payload: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    header = decodeJson(h) as typeof header;
    payload = decodeJson(p) as typeof payload;
  } catch {
    return { ok: false, reason: "undecodable JWT" };
  }
  if (header.alg !== "RS256") return { ok: false, reason: "alg must be RS256" };
  const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
  const signed = verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
  if (!signed) return { ok: false, reason: "signature does not match the app's key" };
  if (String(payload.iss) !== String(appId)) return { ok: false, reason: "iss is not the app id" };
  if (typeof payload.iat !== "number" || typeof payload.exp !== "number") return { ok: false, reason: "iat/exp missing" };
  if (payload.iat > nowS + CLOCK_DRIFT_S) return { ok: false, reason: "iat is in the future" };
  if (payload.exp <= nowS) return { ok: false, reason: "JWT expired" };
  if (payload.exp - payload.iat > MAX_LIFETIME_S) return { ok: false, reason: "exp is too far in the future" };
  return { ok: true };
}
