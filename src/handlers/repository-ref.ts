import type { RepositoryRef } from "../queue/index.js";
import { PayloadError } from "./handler-result.js";
import { bool, int, obj, optStr, str } from "./payload-fields.js";
import type { Fields, HandledEvent, PayloadOf } from "../intake/index.js";

/** The repository and installation of a payload, with a credential-free clone URL on our git host. */
export function repositoryRef(payload: Fields<PayloadOf<HandledEvent>>, gitBaseUrl: string): RepositoryRef {
  const installation = obj(payload, "installation", "payload");
  const repository = obj(payload, "repository", "payload");
  const owner = obj(repository, "owner", "repository");
  const login = optStr(owner, "login") ?? optStr(owner, "name");
  if (!login) throw new PayloadError("repository.owner.login is missing");
  const name = str(repository, "name", "repository");
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || !/^[A-Za-z0-9_.-]+$/.test(login)) {
    throw new PayloadError("repository owner or name has unexpected characters");
  }
  return {
    installationId: int(installation, "id", "installation"),
    repoId: int(repository, "id", "repository"),
    owner: login,
    repo: name,
    private: bool(repository, "private"),
    defaultBranch: optStr(repository, "default_branch") ?? optStr(repository, "master_branch") ?? "main",
    cloneUrl: `${gitBaseUrl}/${login}/${name}.git`,
  };
}
