import type { ConfigLimits } from "../config/index.js";
import type { BuildSecretGrant } from "./build-secrets.js";

/** What to do with a pull request from a fork: build it, build it once a maintainer approves, or never. */
export type ForkPolicy = "build" | "approve" | "never";

export const FORK_POLICIES: readonly ForkPolicy[] = ["build", "approve", "never"];

/** A registry login, read from the environment or a file at start-up. JSON and `inspect` show the password masked. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** Where an account's images go and what they are pushed with (the shape of the app config's `registry`). */
export interface TenantRegistry {
  /** `ghcr.io`, `registry.example.com/builds`: images go to `<prefix>/<owner>/<repo>`. No trailing slash. */
  prefix: string;
  /** `host[:port]` of the prefix. */
  host: string;
  credentials?: RegistryCredentials;
}

/** The installation a job belongs to: its account's login and the installation's id. */
export interface AccountRef {
  accountLogin: string;
  installationId: number;
}

/** Where a served account's policy comes from. */
export type PolicySource =
  /** An entry of the tenants file. */
  | "listed"
  /** The tenants file's `defaults`, for an account it does not list (`unlisted_accounts: serve`). */
  | "unlisted"
  /** No tenants file: the single registry of BUILDKIT_BOT_REGISTRY, owner-scoped. */
  | "single-registry";

export interface ServedTenant {
  served: true;
  source: PolicySource;
  account: AccountRef;
  registry: TenantRegistry;
  /** Registry paths (each ending in `/`) the account's repositories may push to and read caches from. */
  namespaces: readonly string[];
  /** Undefined: no cap of its own. */
  maxConcurrentBuilds: number | undefined;
  forkPolicy: ForkPolicy;
  /** Build secrets of the tenants file's entry (values masked in JSON and `inspect`); none for unlisted accounts. */
  buildSecrets: readonly BuildSecretGrant[];
  /** Limits on the account's `.github/buildkit-bot.yml`: BUILDKIT_BOT_CONFIG_LIMITS with the file's overrides. */
  repoConfigLimits: ConfigLimits;
}

export interface RefusedTenant {
  served: false;
  account: AccountRef;
  /** Why, for the neutral check run: one or two sentences. */
  reason: string;
}

/** What the operator decided for one account. */
export type TenantPolicy = ServedTenant | RefusedTenant;

/** The operator's tenancy decisions, looked up per installation. */
export interface Tenants {
  /** The tenants file, when there is one. */
  readonly file: string | undefined;
  policyFor(account: AccountRef): TenantPolicy;
  /** A summary safe to log: no credential values. */
  describe(): Record<string, unknown>;
}
