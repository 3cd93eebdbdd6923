import type { OctokitRequest } from "../github/reporter.js";

/** Minting the build's git token failed for a reason a retry will not fix (the repository left the installation…). */
export class TokenMintError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = "TokenMintError";
  }
}

/**
 * An installation token limited to one repository with `contents: read` only: all the daemon's git fetch needs.
 * `appRequest` is authenticated as the App itself (`(await probot.auth()).request`), whose base URL is the
 * configured GitHub (github.com or GHE). The token is returned to the caller only; nothing here logs or keeps it.
 * Transient failures (5xx, 429, rate limits) are rethrown as they are, for the queue to retry.
 */
export async function mintRepositoryToken(appRequest: OctokitRequest, installationId: number, repoId: number): Promise<string> {
  let data: unknown;
  try {
    ({ data } = await appRequest("POST /app/installations/{installation_id}/access_tokens", {
      installation_id: installationId,
      repository_ids: [repoId],
      permissions: { contents: "read" },
    }));
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number" && (status >= 500 || status === 429 || status === 403)) throw err;
    throw new TokenMintError(
      `could not get a read-only token for repository ${repoId} of installation ${installationId}${typeof status === "number" ? ` (HTTP ${status})` : ""}`,
      typeof status === "number" ? status : undefined,
    );
  }
  const token = (data as { token?: unknown } | undefined)?.token;
  if (typeof token !== "string" || token === "") throw new TokenMintError("GitHub answered the token request without a token", undefined);
  return token;
}

/**
 * The login of the account an installation belongs to, as GitHub says (`GET /app/installations/{id}`, as the App).
 * The worker looks the account's policy up with it, and refuses a job whose owner claims another account.
 * Transient failures are rethrown as they are.
 */
export async function installationAccountLogin(appRequest: OctokitRequest, installationId: number): Promise<string> {
  let data: unknown;
  try {
    ({ data } = await appRequest("GET /app/installations/{installation_id}", { installation_id: installationId }));
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number" && (status >= 500 || status === 429 || status === 403)) throw err;
    throw new TokenMintError(`could not read installation ${installationId}${typeof status === "number" ? ` (HTTP ${status})` : ""}`, typeof status === "number" ? status : undefined);
  }
  const login = (data as { account?: { login?: unknown } } | undefined)?.account?.login;
  if (typeof login !== "string" || login === "") throw new TokenMintError(`GitHub answered without the account of installation ${installationId}`, undefined);
  return login;
}
