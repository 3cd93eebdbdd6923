import type { Redis } from "ioredis";

/**
 * Finds secrets where they must never be: in any text, as themselves or inside base64 (any alignment, standard
 * or URL alphabet — so `basic base64("x-access-token:" + token)`, the base64 of the token alone and a base64url
 * X-Registry-Auth JSON holding a password are all caught).
 */

export interface Secret {
  /** What it is, for the failure message (never the value). */
  label: string;
  value: string;
}

export interface Leak {
  secret: string;
  /** How it was found: `raw`, `base64`, `base64url`. */
  form: string;
  source: string;
  /** Where in the source, without the secret itself. */
  context: string;
}

/** Shortest base64 fragment worth looking for: shorter ones match by chance. */
const MIN_FRAGMENT = 12;

/**
 * The parts of base64(anything + secret + anything) that depend on the secret alone, for the three alignments.
 */
export function base64Fragments(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const out = new Set<string>();
  for (let k = 0; k < 3; k++) {
    const buf = Buffer.concat([Buffer.alloc(k), bytes]);
    const start = Math.ceil(k / 3) * 3;
    const end = Math.floor(buf.length / 3) * 3;
    if (end - start < 3) continue;
    const fragment = buf.toString("base64").slice((start / 3) * 4, (end / 3) * 4);
    if (fragment.length >= MIN_FRAGMENT) out.add(fragment);
  }
  return [...out];
}

interface Needle {
  secret: string;
  form: string;
  text: string;
}

function needles(secrets: readonly Secret[]): Needle[] {
  const out: Needle[] = [];
  for (const s of secrets) {
    out.push({ secret: s.label, form: "raw", text: s.value });
    for (const f of base64Fragments(s.value)) {
      out.push({ secret: s.label, form: "base64", text: f });
      const url = f.replace(/\+/g, "-").replace(/\//g, "_");
      if (url !== f) out.push({ secret: s.label, form: "base64url", text: url });
    }
  }
  return out;
}

/** Every occurrence of every secret (in every form) in the sources. */
export function scanForSecrets(sources: ReadonlyMap<string, string>, secrets: readonly Secret[]): Leak[] {
  const leaks: Leak[] = [];
  const all = needles(secrets);
  for (const [source, text] of sources) {
    for (const n of all) {
      const at = text.indexOf(n.text);
      if (at < 0) continue;
      const context = `${text.slice(Math.max(0, at - 60), at)}<${n.form} of ${n.secret}>${text.slice(at + n.text.length, at + n.text.length + 60)}`;
      leaks.push({ secret: n.secret, form: n.form, source, context });
    }
  }
  return leaks;
}

/** The body lines of a PEM key (the base64 between BEGIN and END), each a secret of its own. */
export function pemBodyLines(pem: string, label: string): Secret[] {
  return pem
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith("-----"))
    .map((value, i) => ({ label: `${label} line ${i + 1}`, value }));
}

/**
 * Every key of a Redis database with its value, whatever its type (string, hash, list, set, zset, stream), as one
 * text per key. Binary values are read as latin1 so no byte is lost to decoding.
 */
export async function dumpRedis(redis: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scanBuffer(cursor, "COUNT", 500);
    cursor = String(next);
    for (const keyBuf of keys) {
      const key = keyBuf.toString("latin1");
      const type = await redis.type(keyBuf);
      let parts: Buffer[] = [];
      switch (type) {
        case "string":
          parts = [(await redis.getBuffer(keyBuf)) ?? Buffer.alloc(0)];
          break;
        case "hash":
          parts = await redis.hgetallBuffer(keyBuf).then((h) => Object.entries(h).flatMap(([k, v]) => [Buffer.from(k, "latin1"), v]));
          break;
        case "list":
          parts = await redis.lrangeBuffer(keyBuf, 0, -1);
          break;
        case "set":
          parts = await redis.smembersBuffer(keyBuf);
          break;
        case "zset":
          parts = await redis.zrangeBuffer(keyBuf, 0, -1, "WITHSCORES");
          break;
        case "stream": {
          const entries = (await redis.xrangeBuffer(keyBuf, "-", "+")) as Array<[Buffer, Buffer[]]>;
          parts = entries.flatMap(([id, fields]) => [id, ...fields]);
          break;
        }
        case "none":
          continue;
        default:
          throw new Error(`dumpRedis: key ${key} has type ${type}, which the scan does not read`);
      }
      out.set(`redis ${type} ${key}`, `${key}\n${parts.map((p) => p.toString("latin1")).join("\n")}`);
    }
  } while (cursor !== "0");
  return out;
}
