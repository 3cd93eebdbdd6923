import { createSign, generateKeyPairSync } from "node:crypto";

export interface AppCredentials {
  appId: number;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A fresh RSA key pair for a test GitHub App. */
export function createAppCredentials(appId = 4242): AppCredentials {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    appId,
    privateKeyPem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** Signs an app JWT by hand, so tests can also make the broken ones GitHub refuses. */
export function signAppJwt(
  privateKeyPem: string,
  claims: { iss: number | string; iat?: number; exp?: number },
  header: Record<string, unknown> = { alg: "RS256", typ: "JWT" },
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iat: now - 30, exp: now + 540, ...claims };
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const data = `${enc(header)}.${enc(payload)}`;
  const signature = createSign("RSA-SHA256").update(data).sign(privateKeyPem).toString("base64url");
  return `${data}.${signature}`;
}
