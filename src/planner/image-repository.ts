import type { ImageConfig } from "../config/index.js";
import { ImagePathTooLongError, ownerScopedRepository } from "../tenancy/index.js";

export { ImagePathTooLongError };

/**
 * Where an image is pushed: its `repository` from the config, else `<prefix>/<owner>/<repo>` for a single image and
 * `<prefix>/<owner>/<repo>/<image>` when the config lists several. Each name is one path component of its own (see
 * tenancy's `pathComponent`), so `shop` + `api` (`…/shop/api`) never meets the repository `shop-api`, and
 * `acme/app` never meets `other/app`. Throws `ImagePathTooLongError` when the path is over the registry's limit.
 */
export function imageRepository(
  registryPrefix: string,
  at: { owner: string; repo: string },
  image: Pick<ImageConfig, "name" | "repository">,
  imageCount: number,
): string {
  if (image.repository) return image.repository;
  return ownerScopedRepository(registryPrefix, { owner: at.owner, repo: at.repo, ...(imageCount > 1 ? { image: image.name } : {}) });
}
