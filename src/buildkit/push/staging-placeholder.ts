import type { RegistryClient } from "../registry/registry-client.js";
import { retireTag } from "../registry/retire-tag.js";

/**
 * The Engine can only push a local name under its own tag, so the staging tag cannot be avoided. Once the image has
 * its final tags, the staging tag is retired (src/buildkit/registry/retire-tag.ts): pointed at its own placeholder,
 * so it no longer pins the image (retention and garbage collection see the image only through its final tags), and
 * the placeholder deleted by digest where the registry allows deletes. Returns what could not be done; never throws.
 */
export async function retireStagingTag(client: RegistryClient, repository: string, tag: string): Promise<string[]> {
  const done = await retireTag(client, repository, tag);
  switch (done.outcome) {
    case "deleted":
    case "absent":
      return [];
    case "failed":
    case "moved":
      return [`staging tag ${repository}:${tag} still points at the image: ${done.detail ?? done.outcome}`];
    default:
      return [`staging tag ${repository}:${tag} kept (points at an empty placeholder): ${done.detail ?? done.outcome}`];
  }
}
