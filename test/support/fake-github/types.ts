/** What the fake needs from the stack's git server (`test/support/git-server.ts`), structurally. */
export interface GitRepoLike {
  remote: string;
  dir: string;
}

export interface GitServerLike<R extends GitRepoLike = GitRepoLike> {
  url: string;
  host: string;
  /** Tokens the git server accepts for clones; the fake adds the ones it mints and removes them when they expire. */
  tokens: Set<string>;
  /**
   * Optional per-token repository scope (`owner/name`), honoured by the git server when it has it: a token
   * absent from the map may clone every repository, a token mapped to a set only those in it.
   */
  tokenRepos?: Map<string, ReadonlySet<string>>;
  /** Optional: `owner/name` (lower case) the git server serves without credentials (public repositories). */
  publicRepos?: Set<string>;
  createRepo(owner: string, name: string): Promise<R>;
}

export type PermissionLevel = "read" | "write";
export type Permissions = Record<string, PermissionLevel>;

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body (undefined when the request had none). */
  body: unknown;
  /** ms since the epoch when the request arrived. */
  at: number;
  status: number;
}

export interface FakeInstallation {
  id: number;
  account: string;
  permissions: Permissions;
}

export interface FakeRepository {
  id: number;
  owner: string;
  name: string;
  installationId: number;
  private: boolean;
  defaultBranch: string;
  /** Git directory the contents/compare/files endpoints read from. */
  dir?: string;
}

export interface MintedToken {
  token: string;
  installationId: number;
  /** `owner/name` the token is limited to; undefined = every repository of the installation. */
  repositories?: ReadonlySet<string>;
  permissions: Permissions;
  expiresAt: number;
  /** The body of the request that minted it, as sent. */
  requested: unknown;
}

export interface FakeAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "notice" | "warning" | "failure";
  message: string;
  title?: string;
  raw_details?: string;
  start_column?: number;
  end_column?: number;
}

export interface FakeCheckRun {
  id: number;
  owner: string;
  repo: string;
  name: string;
  head_sha: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  details_url: string | null;
  external_id: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  /** Every annotation sent, across requests, in order. */
  annotations: FakeAnnotation[];
  actions: Array<{ label: string; description: string; identifier: string }>;
  /** Every accepted create/update body, in order. */
  updates: unknown[];
}

export interface FakeStatus {
  id: number;
  owner: string;
  repo: string;
  sha: string;
  state: "error" | "failure" | "pending" | "success";
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
}

export interface FakePullRequest {
  owner: string;
  repo: string;
  number: number;
  /** Base and head as refs or shas of the base repository's git directory (a fork's head: `refs/pull/N/head`). */
  base: string;
  head: string;
  /** `owner/name` of a fork the head lives in; absent: the base repository itself. */
  headRepo?: string;
  /** The author's `author_association`; GitHub's default for a stranger is `NONE`. */
  authorAssociation?: string;
  state?: "open" | "closed";
}

/** A repository role as GitHub names it (`role_name`); `permission` is derived from it as GitHub does. */
export type FakeRepositoryRole = "admin" | "maintain" | "write" | "triage" | "read";

/** One attempt at delivering a webhook, as `GET /app/hook/deliveries` lists it (GitHub's `hook-delivery-item`). */
export interface FakeHookDelivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  duration: number;
  /** "OK" for a 2xx answer, else what went wrong, as GitHub words it. */
  status: string;
  status_code: number;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository_id: number | null;
  throttled_at: string | null;
}
