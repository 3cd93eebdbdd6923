import { repositoryOf } from "../tenancy/index.js";

/** The tag of `host/path:tag`; "" for a reference without one or not valid as written. */
export function tagOfRef(ref: string): string {
  const repository = repositoryOf(ref);
  return repository && ref.startsWith(`${repository}:`) ? ref.slice(repository.length + 1) : "";
}
