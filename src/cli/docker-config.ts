import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RegistryCredential } from "@buildkit-bot/buildkit";

export interface DockerConfigCredentials {
  /** Where the config was looked for. */
  path: string;
  credentials: RegistryCredential[];
  /** Things a person should know (helpers ignored, entries skipped); never contain secrets. */
  notes: string[];
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv, homedir: string): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, "config.json") : join(homedir, ".docker", "config.json");
}

/**
 * Registry credentials stored inline in Docker's client config (`auths.<host>.auth` = base64 `user:password`,
 * or `username`/`password`). Credential helpers (`credsStore`, `credHelpers`) are not run: their hosts are named
 * in a note. A missing file is no credentials; an unreadable one is a note, not a failure.
 */
export async function readDockerConfigCredentials(env: NodeJS.ProcessEnv, homedir: string): Promise<DockerConfigCredentials> {
  const path = dockerConfigPath(env, homedir);
  const result: DockerConfigCredentials = { path, credentials: [], notes: [] };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") result.notes.push(`ignoring ${path}: ${code ?? "unreadable"}`);
    return result;
  }
  let config: { auths?: Record<string, AuthEntry>; credsStore?: unknown; credHelpers?: Record<string, unknown> };
  try {
    config = JSON.parse(text) as typeof config;
  } catch {
    result.notes.push(`ignoring ${path}: not valid JSON`);
    return result;
  }
  if (typeof config.credsStore === "string" && config.credsStore !== "") {
    result.notes.push(
      `${path} uses the credential store "${config.credsStore}", which is not used: only inline "auths" entries are read; pass --registry-host/--registry-user/--registry-password-stdin for other registries`,
    );
  }
  const helperHosts = Object.keys(config.credHelpers ?? {});
  if (helperHosts.length > 0) {
    result.notes.push(
      `${path} names credential helpers for ${helperHosts.join(", ")}, which are not used; pass --registry-host/--registry-user/--registry-password-stdin for them`,
    );
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const host = registryHostOfConfigKey(key);
    const pair = credentialsOf(entry);
    if (pair) {
      result.credentials.push({ host, ...pair });
    } else if (entry && typeof entry.identitytoken === "string" && entry.identitytoken !== "") {
      result.notes.push(`${path}: the identity token for ${host} is not supported and was skipped`);
    }
  }
  return result;
}

function credentialsOf(entry: AuthEntry | undefined): { username: string; password: string } | undefined {
  if (!entry) return undefined;
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0 && colon < decoded.length - 1) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string" && entry.username && entry.password) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * The host[:port] a daemon dials for an `auths` key: keys may be bare hosts or URLs (`https://ghcr.io`,
 * `https://index.docker.io/v1/`); Docker Hub is dialled as `registry-1.docker.io`.
 */
export function registryHostOfConfigKey(key: string): string {
  const host = key
    .trim()
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return host === "docker.io" || host === "index.docker.io" ? "registry-1.docker.io" : host;
}
