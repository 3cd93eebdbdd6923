import { inspect } from "node:util";

const MASK = "***";

/** One build secret of the tenants file, its value read at start-up. JSON and `inspect` show the value masked. */
export interface BuildSecretGrant {
  readonly id: string;
  readonly value: string;
  /** Lowercased repository names (without the owner) it is given to; undefined = every repository of the account. */
  readonly repositories: readonly string[] | undefined;
}

/** Ids of the form GIT_AUTH_… are the session's git credentials; a build secret never takes one. */
export function isReservedSecretId(id: string): boolean {
  return id.startsWith("GIT_AUTH_");
}

export function maskedBuildSecret(id: string, value: string, repositories: readonly string[] | undefined): BuildSecretGrant {
  const shown = (): Record<string, unknown> => ({ id, value: MASK, ...(repositories ? { repositories } : {}) });
  const grant = { id, value, repositories };
  Object.defineProperty(grant, "toJSON", { value: shown, enumerable: false });
  Object.defineProperty(grant, inspect.custom, { value: shown, enumerable: false });
  return Object.freeze(grant);
}

/** The secrets of `grants` that `repo` (a repository of the account, without the owner) is given, by id. */
export function secretsForRepository(grants: readonly BuildSecretGrant[], repo: string): ReadonlyMap<string, string> {
  const name = repo.toLowerCase();
  const out = new Map<string, string>();
  for (const grant of grants) {
    if (grant.repositories === undefined || grant.repositories.includes(name)) out.set(grant.id, grant.value);
  }
  return out;
}

/** The ids of `grants` that `repo` is given, for messages (never values). */
export function secretIdsForRepository(grants: readonly BuildSecretGrant[], repo: string): string[] {
  return [...secretsForRepository(grants, repo).keys()].sort();
}
