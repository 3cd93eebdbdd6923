import { randomBytes } from "node:crypto";

/** 192 random bits, URL-safe: the only key to a build's log page. */
export function newLogToken(): string {
  return randomBytes(24).toString("base64url");
}

export function isWellFormedLogToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{32}$/.test(token);
}

/** The page address for a token, under the app's public base URL. */
export function logPageUrl(baseUrl: string, token: string, basePath = "/logs"): string {
  return `${baseUrl.replace(/\/+$/, "")}${basePath}/${token}`;
}
