import { pathComponent } from "./path-component.js";
import { AppError } from "../errors/index.js";

/**
 * The registry's limit on a repository name. Current registries count the path only; older ones (and older Docker
 * clients) counted the host too, so the whole name is held to it.
 */
export const REPOSITORY_NAME_MAX_LENGTH = 255;

/** An owner-scoped image path does not fit the registry's name limit; the message says what to do. */
export class ImagePathTooLongError extends AppError {
  readonly code = "IMAGE_PATH_TOO_LONG";
  constructor(readonly path: string) {
    super(
      `the image path ${path} is ${path.length} characters, over the registry's limit of ${REPOSITORY_NAME_MAX_LENGTH}; ` +
        "set a shorter `repository:` for the image in .github/buildkit-bot.yml",
    );
  }
}

function trimPrefix(prefix: string): string {
  return prefix.replace(/\/+$/, "");
}

/** `<prefix>/<owner>/`: where an account's images go by default, and the namespace it may push to by default. */
export function ownerNamespace(registryPrefix: string, owner: string): string {
  return `${trimPrefix(registryPrefix)}/${pathComponent(owner)}/`;
}

/**
 * `<prefix>/<owner>/<repo>`, or `<prefix>/<owner>/<repo>/<image>` when the repository has several images. Every name
 * is its own path component, so distinct (owner, repo, image) triples never share a path.
 */
export function ownerScopedRepository(registryPrefix: string, names: { owner: string; repo: string; image?: string }): string {
  const path = [ownerNamespace(registryPrefix, names.owner) + pathComponent(names.repo)];
  if (names.image !== undefined) path.push(pathComponent(names.image));
  const repository = path.join("/");
  if (repository.length > REPOSITORY_NAME_MAX_LENGTH) throw new ImagePathTooLongError(repository);
  return repository;
}
