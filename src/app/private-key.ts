import { readFileSync } from "node:fs";

/**
 * The App's private key from the variables Probot reads: PRIVATE_KEY (PEM, with literal "\n" escapes
 * allowed, or base64 of the PEM) or PRIVATE_KEY_PATH. Undefined when neither is set.
 */
export function readPrivateKey(env: NodeJS.ProcessEnv): string | undefined {
  const inline = env.PRIVATE_KEY?.trim();
  if (inline) {
    const pem = inline.replace(/\\n/g, "\n");
    if (pem.includes("-----BEGIN")) return pem;
    const decoded = Buffer.from(inline, "base64").toString("utf8");
    if (decoded.includes("-----BEGIN")) return decoded;
    throw new Error("PRIVATE_KEY is neither a PEM key nor base64 of one");
  }
  const path = env.PRIVATE_KEY_PATH?.trim();
  if (path) return readFileSync(path, "utf8");
  return undefined;
}
