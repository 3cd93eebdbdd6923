export const MediaType = {
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
} as const;

/** What a manifest GET/HEAD accepts: without these a registry may down-convert to schema1 or refuse an index. */
export const MANIFEST_ACCEPT = [MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.OciIndex].join(", ");
