import { repositoryPathComponent } from "../config/default-repo-config.js";
import type { ImageConfig } from "../config/repo-config.js";

/**
 * Where an image is pushed: its `repository` from the config, else `<prefix>/<repo>` for a single image and
 * `<prefix>/<repo>-<image>` when the config lists several (so two images never share tags).
 */
export function imageRepository(
  registryPrefix: string,
  repoName: string,
  image: Pick<ImageConfig, "name" | "repository">,
  imageCount: number,
): string {
  if (image.repository) return image.repository;
  const prefix = registryPrefix.replace(/\/+$/, "");
  const base = repositoryPathComponent(repoName);
  return imageCount > 1 ? `${prefix}/${base}-${image.name}` : `${prefix}/${base}`;
}
