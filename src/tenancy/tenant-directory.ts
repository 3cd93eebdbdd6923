import { dirname } from "node:path";
import { formatKeyPath } from "../config/index.js";
import type { ConfigLimitName, ConfigLimits, KeyPath } from "../config/index.js";
import { maskedBuildSecret } from "./build-secrets.js";
import type { BuildSecretGrant } from "./build-secrets.js";
import { CredentialReferenceError, maskedCredentials, resolveReference } from "./credentials.js";
import { ownerNamespace } from "./owner-scoped.js";
import type { AccountRef, ForkPolicy, PolicySource, TenantPolicy, TenantRegistry, Tenants } from "./tenant-policy.js";
import { buildSecretReference, credentialReferences, readTenantsFile } from "./tenants-file.js";
import type { RawAccount, RawPolicy, TenantsFile } from "./tenants-file.js";
import { TenantsFileError } from "./tenants-file-error.js";
import type { TenantsFileIssue } from "./tenants-file-error.js";

/** What the app's environment decides without a tenants file: BUILDKIT_BOT_REGISTRY (+ credentials) and the limits. */
export interface TenancyDefaults {
  registry: TenantRegistry;
  repoConfigLimits: ConfigLimits;
}

/** A policy with credentials resolved; namespaces stay undefined when they default to the account's own. */
interface ResolvedPolicy {
  registry: TenantRegistry;
  namespaces: readonly string[] | undefined;
  maxConcurrentBuilds: number | undefined;
  forkPolicy: ForkPolicy;
  repoConfigLimits: ConfigLimits;
  buildSecrets: readonly BuildSecretGrant[];
}

const MASK = "***";
const DESCRIBED_ACCOUNTS = 20;

function served(account: AccountRef, source: PolicySource, policy: ResolvedPolicy): TenantPolicy {
  return {
    served: true,
    source,
    account,
    registry: policy.registry,
    namespaces: policy.namespaces ?? [ownerNamespace(policy.registry.prefix, account.accountLogin)],
    maxConcurrentBuilds: policy.maxConcurrentBuilds,
    forkPolicy: policy.forkPolicy,
    buildSecrets: policy.buildSecrets,
    repoConfigLimits: policy.repoConfigLimits,
  };
}

function describeRegistry(registry: TenantRegistry): Record<string, unknown> {
  return {
    prefix: registry.prefix,
    ...(registry.credentials ? { credentials: { username: registry.credentials.username, password: MASK } } : {}),
  };
}

/** Without a tenants file: every account is served from the one registry, under its own `<prefix>/<owner>/`. */
export function singleRegistryTenants(defaults: TenancyDefaults): Tenants {
  const policy: ResolvedPolicy = { ...defaults, namespaces: undefined, maxConcurrentBuilds: undefined, forkPolicy: "build", buildSecrets: [] };
  return {
    file: undefined,
    policyFor: (account) => served(account, "single-registry", policy),
    describe: () => ({ file: null, registry: describeRegistry(defaults.registry), unlistedAccounts: "serve" }),
  };
}

/**
 * Reads BUILDKIT_BOT_TENANTS_FILE and resolves every credential reference in it, once, at start-up. Any problem
 * (syntax, schema, duplicate accounts, overlapping namespaces, a variable that is not set, a file that cannot be
 * read) is a `TenantsFileError` naming the file and line; a credential's value is never part of a message.
 */
export function loadTenants(path: string, defaults: TenancyDefaults, env: NodeJS.ProcessEnv = process.env): Tenants {
  return tenantsFromFile(readTenantsFile(path), defaults, env);
}

export function tenantsFromFile(file: TenantsFile, defaults: TenancyDefaults, env: NodeJS.ProcessEnv): Tenants {
  const issues: TenantsFileIssue[] = [];
  const baseDir = dirname(file.path);
  const registryOf = (policy: RawPolicy | undefined, at: KeyPath, who: string): TenantRegistry | undefined => {
    const raw = policy?.registry;
    if (!raw) return undefined;
    const prefix = raw.prefix.replace(/\/+$/, "");
    const registry: TenantRegistry = { prefix, host: prefix.split("/")[0]! };
    if (!raw.credentials) return registry;
    const refs = credentialReferences(raw.credentials);
    const resolve = (field: string, ref: Exclude<typeof refs.username, { kind: "inline" }>): string | undefined => {
      try {
        return resolveReference(ref, env, baseDir);
      } catch (err) {
        if (!(err instanceof CredentialReferenceError)) throw err;
        const keyPath = [...at, "registry", "credentials", field];
        issues.push({ line: file.lineOf(keyPath), column: 1, reason: `${formatKeyPath(keyPath)} (${who}): ${err.message}` });
        return undefined;
      }
    };
    const field = (ref: { kind: string }, base: string): string => `${base}_${ref.kind}`;
    const username = refs.username.kind === "inline" ? refs.username.value : resolve(field(refs.username, "username"), refs.username);
    const password = resolve(field(refs.password, "password"), refs.password);
    if (username !== undefined && password !== undefined) registry.credentials = maskedCredentials(username, password);
    return registry;
  };
  const secretsOf = (entry: RawAccount, i: number, who: string): BuildSecretGrant[] =>
    (entry.build_secrets ?? []).flatMap((secret, j) => {
      const ref = buildSecretReference(secret);
      try {
        const repositories = secret.repositories?.map((r) => r.toLowerCase());
        return [maskedBuildSecret(secret.id, resolveReference(ref, env, baseDir), repositories)];
      } catch (err) {
        if (!(err instanceof CredentialReferenceError)) throw err;
        const keyPath = ["accounts", i, "build_secrets", j, ref.kind];
        issues.push({ line: file.lineOf(keyPath), column: 1, reason: `${formatKeyPath(keyPath)} (${who}, secret ${secret.id}): ${err.message}` });
        return [];
      }
    });
  const limitsOf = (base: ConfigLimits, policy: RawPolicy | undefined): ConfigLimits =>
    Object.freeze({ ...base, ...(policy?.config_limits as Partial<Record<ConfigLimitName, number>> | undefined) });

  const raw = file.raw;
  const fallback: ResolvedPolicy = {
    registry: registryOf(raw.defaults, ["defaults"], "defaults") ?? defaults.registry,
    namespaces: undefined,
    maxConcurrentBuilds: raw.defaults?.max_concurrent_builds,
    forkPolicy: raw.defaults?.fork_policy ?? "build",
    repoConfigLimits: limitsOf(defaults.repoConfigLimits, raw.defaults),
    buildSecrets: [],
  };
  const byId = new Map<number, ResolvedPolicy>();
  const byLogin = new Map<string, ResolvedPolicy>();
  const listed: Array<Record<string, unknown>> = [];
  (raw.accounts ?? []).forEach((entry: RawAccount, i) => {
    const who = [entry.login, entry.installation_id !== undefined ? `installation ${entry.installation_id}` : undefined].filter(Boolean).join(", ");
    const policy: ResolvedPolicy = {
      registry: registryOf(entry, ["accounts", i], who) ?? fallback.registry,
      namespaces: entry.namespaces,
      maxConcurrentBuilds: entry.max_concurrent_builds ?? fallback.maxConcurrentBuilds,
      forkPolicy: entry.fork_policy ?? fallback.forkPolicy,
      repoConfigLimits: limitsOf(fallback.repoConfigLimits, entry),
      buildSecrets: secretsOf(entry, i, who),
    };
    if (entry.installation_id !== undefined) byId.set(entry.installation_id, policy);
    if (entry.login !== undefined) byLogin.set(entry.login.toLowerCase(), policy);
    listed.push({
      ...(entry.login !== undefined ? { login: entry.login } : {}),
      ...(entry.installation_id !== undefined ? { installationId: entry.installation_id } : {}),
      registry: describeRegistry(policy.registry),
      forkPolicy: policy.forkPolicy,
      ...(policy.buildSecrets.length > 0 ? { buildSecrets: policy.buildSecrets.map((g) => g.id) } : {}),
    });
  });
  if (issues.length > 0) throw new TenantsFileError(file.path, issues);

  const unlisted = raw.unlisted_accounts;
  return {
    file: file.path,
    policyFor(account) {
      // The installation id is the more specific key: it cannot be renamed away from the entry.
      const entry = byId.get(account.installationId) ?? byLogin.get(account.accountLogin.toLowerCase());
      if (entry) return served(account, "listed", entry);
      if (unlisted === "serve") return served(account, "unlisted", fallback);
      return {
        served: false,
        account,
        reason:
          `This buildkit-bot deployment builds only for the accounts its operator lists, and ${account.accountLogin} ` +
          `(installation ${account.installationId}) is not one of them. Nothing was built; ask the operator to add the account to the tenants file.`,
      };
    },
    describe: () => ({
      file: file.path,
      unlistedAccounts: unlisted,
      defaults: { registry: describeRegistry(fallback.registry), forkPolicy: fallback.forkPolicy },
      accountCount: listed.length,
      // The start-up log line stays readable with thousands of accounts.
      accounts: listed.slice(0, DESCRIBED_ACCOUNTS),
    }),
  };
}
