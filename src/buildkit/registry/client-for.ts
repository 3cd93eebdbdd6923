import type { RegistryCredential } from "../build-request.js";
import { credentialFor } from "./image-reference.js";
import { RegistryClient } from "./registry-client.js";
import type { RegistryClientOptions } from "./registry-client.js";

/** What the registry API helpers (tag by digest, retire tags) take to reach a registry. */
export interface RegistryAccess {
  credentials?: readonly RegistryCredential[];
  /** Plain HTTP (default: only loopback hosts). */
  insecure?: boolean;
  signal?: AbortSignal;
  registryClientFactory?: (options: RegistryClientOptions) => RegistryClient;
}

/** A client for `registry`, with the one credential configured for it (if any). */
export function registryClientFor(registry: string, access: RegistryAccess): RegistryClient {
  const credential = credentialFor(access.credentials ?? [], registry);
  const options: RegistryClientOptions = {
    registry,
    ...(credential ? { credentials: { username: credential.username, password: credential.password } } : {}),
    ...(access.insecure ? { insecure: true } : {}),
    ...(access.signal ? { signal: access.signal } : {}),
  };
  return access.registryClientFactory ? access.registryClientFactory(options) : new RegistryClient(options);
}
