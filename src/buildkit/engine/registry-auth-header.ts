import type { RegistryCredential } from "../build-request.js";

/**
 * The Engine's `X-Registry-Auth` header: base64url *with* padding (Go's base64.URLEncoding) of the auth config
 * JSON; `{}` means anonymous. An undecodable header is silently treated as anonymous by the Engine, so the exact
 * encoding matters.
 */
export function registryAuthHeader(auth: RegistryCredential | undefined): string {
  const config = auth ? { username: auth.username, password: auth.password, serveraddress: auth.host } : {};
  return Buffer.from(JSON.stringify(config)).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}
