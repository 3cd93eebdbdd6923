import { readFileSync } from "node:fs";
import { AppConfigError } from "./app-config.js";

/**
 * The App's private key from the variables Probot reads: PRIVATE_KEY (PEM, with literal "\n" escapes
 * allowed, or base64 of the PEM) or PRIVATE_KEY_PATH (a PEM file, e.g. the compose secret
 * /run/secrets/github-app-private-key). Undefined when neither is set. Errors name the variable and never
 * carry the key.
 */
export function readPrivateKey(env: NodeJS.ProcessEnv): string | undefined {
  const inline = env.PRIVATE_KEY?.trim();
  if (inline) {
    const pem = inline.replace(/\\n/g, "\n");
    if (pem.includes("-----BEGIN")) return pem;
    const decoded = Buffer.from(inline, "base64").toString("utf8");
    if (decoded.includes("-----BEGIN")) return decoded;
    throw new AppConfigError("PRIVATE_KEY", "is neither a PEM key nor base64 of one");
  }
  const path = env.PRIVATE_KEY_PATH?.trim();
  if (!path) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    const hint = code === "EACCES" ? " (the file must be readable by the user the app runs as: uid 1000 in the image)" : "";
    throw new AppConfigError("PRIVATE_KEY_PATH", `cannot read ${path}: ${code}${hint}`);
  }
  if (!pem.includes("-----BEGIN")) throw new AppConfigError("PRIVATE_KEY_PATH", `${path} is not a PEM private key`);
  return pem;
}
