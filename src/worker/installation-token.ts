import { GitCloneRefusedError } from "@buildkit-bot/buildkit";
import { AppError, httpStatusOf, isTransientError } from "../errors/index.js";
import type { OctokitRequest } from "../github/index.js";
import type { InstallationTokenCache, MintedToken, TokenLease } from "./token-cache.js";

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
 * An installation token limited to one repository with `contents: read` only (all the daemon's git fetch needs),
 * or with the `permissions` given.
 * `appRequest` is authenticated as the App itself (`(await probot.auth()).request`), whose base URL is the
 * configured GitHub (github.com or GHE). The token is returned to the caller only; nothing here logs or keeps it.
 * Transient failures (isTransientError: 5xx, 429, rate limits) are rethrown as they are, for the queue to retry.
 */
export async function mintRepositoryToken(
  appRequest: OctokitRequest,
  installationId: number,
  repoId: number,
  permissions: Readonly<Record<string, "read" | "write">> = GIT_READ,
): Promise<MintedToken> {
  const { data } = await appRequest("POST /app/installations/{installation_id}/access_tokens", {
    installation_id: installationId,
    repository_ids: [repoId],
    permissions: { ...permissions },
  }).catch((err: unknown) => {
    throw mintFailure(err, `could not get a ${permissions === GIT_READ ? "read-only " : ""}token for repository ${repoId} of installation ${installationId}`);
  });
  // Typed by GitHub's description, but still an answer from the network: checked before it is trusted.
  const token: unknown = data.token;
  if (typeof token !== "string" || token === "") throw new TokenMintError("GitHub answered the token request without a token", undefined);
  const expires: unknown = data.expires_at;
  const expiresAt = typeof expires === "string" ? Date.parse(expires) : NaN;
  return { token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : undefined };
}

/** All the daemon's git fetch needs. */
const GIT_READ = { contents: "read" } as const;

/**
 * The git token of a repository: the one `tokens` keeps while it is usable (no round trip), else a fresh one
 * minted as the App (`appRequest` is only called then).
 */
export async function repositoryGitToken(tokens: InstallationTokenCache, appRequest: () => Promise<OctokitRequest>, installationId: number, repoId: number): Promise<TokenLease> {
  return tokens.get({ installationId, repositoryId: repoId, permissions: GIT_READ }, async () => mintRepositoryToken(await appRequest(), installationId, repoId));
}

/** The git server refused a token the worker had kept: it was dropped, and the next attempt mints a fresh one. */
export class GitTokenRefusedError extends AppError {
  readonly code = "GIT_TOKEN_REFUSED";
  override readonly transient = true;
  constructor(cause: unknown) {
    super("the git server refused the repository's kept token; retrying with a fresh one", { cause });
  }
}

/**
 * What a failed solve means for its git token. The git server refusing access drops the token from `tokens`
 * (whether kept or fresh). When it was a kept one, the refusal may be the token's alone (revoked, the installation's
 * tokens reset): the attempt is retried, with a fresh token. Anything else is returned as it is.
 */
export function afterGitRefusal(err: unknown, tokens: InstallationTokenCache, lease: TokenLease | undefined): unknown {
  if (!lease || !(err instanceof GitCloneRefusedError) || err.failure !== "refused") return err;
  tokens.refused(lease);
  return lease.fresh ? err : new GitTokenRefusedError(err);
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
