import { readFileSync } from "node:fs";
import type { ValidateFunction } from "ajv/dist/2020.js";
import { CONFIG_LIMIT_NAMES, CONFIG_LIMIT_SPECS, schemaNode, createSchemaValidator, formatKeyPath, parseOperatorFile, readOperatorFileText } from "../config/index.js";
import type { ConfigLimitName, LimitSpec, KeyPath, OperatorFileFormat } from "../config/index.js";
import { isReservedSecretId } from "./build-secrets.js";
import type { CredentialReference } from "./credentials.js";
import type { ForkPolicy } from "./tenant-policy.js";
import { TenantsFileError } from "./tenants-file-error.js";
import type { TenantsFileIssue } from "./tenants-file-error.js";

/** `schema/tenants.schema.json`, shipped next to the repository config's schema. */
export const TENANTS_SCHEMA_URL = new URL("../../schema/tenants.schema.json", import.meta.url);

/** The file as the schema shapes it (snake_case, as operators write it). */
export interface RawCredentials {
  username?: string;
  username_env?: string;
  username_file?: string;
  password_env?: string;
  password_file?: string;
}

export interface RawPolicy {
  registry?: { prefix: string; credentials?: RawCredentials };
  max_concurrent_builds?: number;
  fork_policy?: ForkPolicy;
  config_limits?: Partial<Record<ConfigLimitName, number>>;
}

export interface RawBuildSecret {
  id: string;
  env?: string;
  file?: string;
  repositories?: string[];
}

export interface RawAccount extends RawPolicy {
  namespaces?: string[];
  build_secrets?: RawBuildSecret[];
  login?: string;
  installation_id?: number;
}

export interface RawTenantsFile {
  unlisted_accounts: "serve" | "refuse";
  defaults?: RawPolicy;
  accounts?: RawAccount[];
}

/** The registry login of a policy, as references (resolved at start-up by the directory). */
export interface CredentialReferences {
  username: { kind: "inline"; value: string } | CredentialReference;
  password: CredentialReference;
}

/** A validated tenants file and where each of its values is, for errors found after validation. */
export interface TenantsFile {
  path: string;
  raw: RawTenantsFile;
  lineOf(keyPath: KeyPath): number;
}

let validator: ValidateFunction | undefined;

/** The largest value a limit takes (as BUILDKIT_BOT_CONFIG_LIMITS allows). */
const MAX_LIMIT_VALUE = 1_000_000_000;

/** The shipped schema, its `config_limits` keys taken from the code's table of limits (the one source of their names). */
export function tenantsSchema(): Record<string, unknown> {
  const schema = JSON.parse(readFileSync(TENANTS_SCHEMA_URL, "utf8")) as Record<string, unknown>;
  const limits = schemaNode(schema, "/$defs/config_limits");
  if (limits) limits.properties = Object.fromEntries(CONFIG_LIMIT_NAMES.map((name) => [name, { type: "integer", minimum: (CONFIG_LIMIT_SPECS[name] as LimitSpec).min ?? 1, maximum: MAX_LIMIT_VALUE }]));
  return schema;
}

function tenantsValidator(): ValidateFunction {
  validator ??= createSchemaValidator().compile(tenantsSchema());
  return validator;
}

const TENANTS_FILE: OperatorFileFormat<TenantsFileError> = {
  validator: tenantsValidator,
  emptyReason: "at least `unlisted_accounts: serve` or `refuse`",
  error: (file, issues) => new TenantsFileError(file, issues),
  wording: {
    unknownKey: (prop, known) =>
      prop === "password" || prop === "token"
        ? "credentials are never written in this file: use password_env or password_file"
        : (prop === "value" || prop === "secret") && known.includes("env")
          ? "build secrets are never written in this file: use env or file"
          : undefined,
    anyOf: "an account needs `login`, `installation_id` or both",
  },
};

/** Reads and validates the tenants file at `path`; throws `TenantsFileError` listing every problem with its line. */
export function readTenantsFile(path: string): TenantsFile {
  return parseTenantsFile(readOperatorFileText(path, TENANTS_FILE), path);
}

/** Validates the text of a tenants file (`path` is only used in messages). */
export function parseTenantsFile(text: string, path: string): TenantsFile {
  const { data, locator } = parseOperatorFile(text, path, TENANTS_FILE);
  const raw = data as RawTenantsFile;
  const issues: TenantsFileIssue[] = [];
  const report = (keyPath: KeyPath, reason: string, keyOf?: string): void => {
    const at = locator.locate(keyPath, keyOf);
    issues.push({ ...at, reason: `${formatKeyPath(keyOf === undefined ? keyPath : [...keyPath, keyOf])}: ${reason}` });
  };
  checkCredentials(raw.defaults, ["defaults"], report);
  const logins = new Map<string, number>();
  const ids = new Map<number, number>();
  (raw.accounts ?? []).forEach((account, i) => {
    checkCredentials(account, ["accounts", i], report);
    checkBuildSecrets(account, ["accounts", i], report);
    if (account.login !== undefined) {
      const seen = logins.get(account.login.toLowerCase());
      if (seen === undefined) logins.set(account.login.toLowerCase(), i);
      else report(["accounts", i, "login"], `"${account.login}" is already listed at accounts[${seen}] (line ${locator.locate(["accounts", seen]).line})`);
    }
    if (account.installation_id !== undefined) {
      const seen = ids.get(account.installation_id);
      if (seen === undefined) ids.set(account.installation_id, i);
      else report(["accounts", i, "installation_id"], `${account.installation_id} is already listed at accounts[${seen}] (line ${locator.locate(["accounts", seen]).line})`);
    }
  });
  checkNamespaceOverlaps(raw, report, (i) => locator.locate(["accounts", i]).line);
  if (issues.length > 0) throw new TenantsFileError(path, issues);
  return { path, raw, lineOf: (keyPath) => locator.locate(keyPath).line };
}

/** The username and password references of a `credentials` block that `checkCredentials` accepted. */
export function credentialReferences(c: RawCredentials): CredentialReferences {
  const username: CredentialReferences["username"] =
    c.username !== undefined
      ? { kind: "inline", value: c.username }
      : c.username_env !== undefined
        ? { kind: "env", name: c.username_env }
        : { kind: "file", path: c.username_file! };
  const password: CredentialReference = c.password_env !== undefined ? { kind: "env", name: c.password_env } : { kind: "file", path: c.password_file! };
  return { username, password };
}

/** The value reference of a `build_secrets` entry that `checkBuildSecrets` accepted. */
export function buildSecretReference(s: RawBuildSecret): CredentialReference {
  return s.env !== undefined ? { kind: "env", name: s.env } : { kind: "file", path: s.file! };
}

function checkBuildSecrets(account: RawAccount, at: KeyPath, report: (keyPath: KeyPath, reason: string, keyOf?: string) => void): void {
  const seen = new Map<string, number>();
  (account.build_secrets ?? []).forEach((secret, i) => {
    const where = [...at, "build_secrets", i];
    const sources = (["env", "file"] as const).filter((k) => secret[k] !== undefined);
    if (sources.length !== 1) report(where, `needs exactly one of env, file (got ${sources.join(", ") || "none"})`);
    if (isReservedSecretId(secret.id)) report([...where, "id"], `"${secret.id}" is reserved for git authentication`);
    const previous = seen.get(secret.id);
    if (previous === undefined) seen.set(secret.id, i);
    else report([...where, "id"], `"${secret.id}" is already the id of build_secrets[${previous}]; ids are unique per account`);
  });
}

function checkCredentials(policy: RawPolicy | undefined, at: KeyPath, report: (keyPath: KeyPath, reason: string, keyOf?: string) => void): void {
  const c = policy?.registry?.credentials;
  if (!c) return;
  const where = [...at, "registry", "credentials"];
  const usernames = (["username", "username_env", "username_file"] as const).filter((k) => c[k] !== undefined);
  const passwords = (["password_env", "password_file"] as const).filter((k) => c[k] !== undefined);
  if (usernames.length !== 1) report(where, `needs exactly one of username, username_env, username_file (got ${usernames.join(", ") || "none"})`);
  if (passwords.length !== 1) report(where, `needs exactly one of password_env, password_file (got ${passwords.join(", ") || "none"})`);
}

/**
 * Two accounts must not share a namespace, nor hold one inside the other's: each could then write the other's images.
 * Only explicit namespaces are compared (an entry's default one depends on its login, which may be its owner's).
 */
function checkNamespaceOverlaps(raw: RawTenantsFile, report: (keyPath: KeyPath, reason: string) => void, lineOfAccount: (i: number) => number): void {
  const owners: Array<{ account: number; index: number; namespace: string }> = [];
  (raw.accounts ?? []).forEach((account, i) => {
    (account.namespaces ?? []).forEach((namespace, index) => {
      const other = owners.find((o) => o.account !== i && (o.namespace.startsWith(namespace) || namespace.startsWith(o.namespace)));
      if (other) {
        report(
          ["accounts", i, "namespaces", index],
          `"${namespace}" overlaps "${other.namespace}" of accounts[${other.account}] (line ${lineOfAccount(other.account)}); accounts must not share namespaces`,
        );
      }
      owners.push({ account: i, index, namespace });
    });
  });
}
