import { AppError, httpStatusOf, isTransientError } from "../errors/index.js";
import type { OctokitRequest } from "../github/index.js";

/** Minting the build's git token failed for a reason a retry will not fix (the repository left the installation…). */
export class TokenMintError extends AppError {
  readonly code = "TOKEN_MINT_FAILED";
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/**
 * An installation token limited to one repository with `contents: read` only: all the daemon's git fetch needs.
 * `appRequest` is authenticated as the App itself (`(await probot.auth()).request`), whose base URL is the
 * configured GitHub (github.com or GHE). The token is returned to the caller only; nothing here logs or keeps it.
 * Transient failures (isTransientError: 5xx, 429, rate limits) are rethrown as they are, for the queue to retry.
 */
export async function mintRepositoryToken(appRequest: OctokitRequest, installationId: number, repoId: number): Promise<string> {
  const { data } = await appRequest("POST /app/installations/{installation_id}/access_tokens", {
    installation_id: installationId,
    repository_ids: [repoId],
    permissions: { contents: "read" },
  }).catch((err: unknown) => {
    throw mintFailure(err, `could not get a read-only token for repository ${repoId} of installation ${installationId}`);
  });
  // Typed by GitHub's description, but still an answer from the network: checked before it is trusted.
  const token: unknown = data.token;
  if (typeof token !== "string" || token === "") throw new TokenMintError("GitHub answered the token request without a token", undefined);
  return token;
}

/**
 * The login of the account an installation belongs to, as GitHub says (`GET /app/installations/{id}`, as the App).
 * The worker looks the account's policy up with it, and refuses a job whose owner claims another account.
 * Transient failures are rethrown as they are.
 */
export async function installationAccountLogin(appRequest: OctokitRequest, installationId: number): Promise<string> {
  const { data } = await appRequest("GET /app/installations/{installation_id}", { installation_id: installationId }).catch((err: unknown) => {
    throw mintFailure(err, `could not read installation ${installationId}`);
  });
  const account: unknown = data.account;
  const login = account !== null && typeof account === "object" && "login" in account ? account.login : undefined;
  if (typeof login !== "string" || login === "") throw new TokenMintError(`GitHub answered without the account of installation ${installationId}`, undefined);
  return login;
}

/** A failed request to throw on: a transient one as it is (for the queue to retry), any other as a TokenMintError. */
function mintFailure(err: unknown, what: string): unknown {
  if (isTransientError(err)) return err;
  const status = httpStatusOf(err);
  return new TokenMintError(`${what}${status === undefined ? "" : ` (HTTP ${status})`}`, status);
}
