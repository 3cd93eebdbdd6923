/** The per-repo configuration after parsing and validation, with defaults that don't depend on the event applied. */
export interface RepoConfig {
  /** False when the repository has no config file and the root Dockerfile is built with defaults. */
  fromFile: boolean;
  images: ImageConfig[];
}

export interface PushPolicy {
  /** Branch-name globs; undefined = the repository's default branch only. */
  branches?: string[];
  /** Git tag globs; undefined = every tag. */
  tags?: string[];
  pullRequests: boolean;
}

export type CacheSetting =
  | { kind: "off" }
  /** Per-branch cache tags in `repository` (the image's own repository unless `ref` named another one). */
  | { kind: "per-ref"; repository?: string }
  /** One fixed cache reference shared by every ref. */
  | { kind: "fixed"; ref: string };

/** Which SLSA provenance attestation an image carries, per kind of build. */
export interface ProvenanceSetting {
  /** Builds of branches and tags; default `max`. */
  pushes?: "max" | "min" | "none";
  /** Pull requests' images; default `min`. */
  pullRequests?: "min" | "none";
}

export interface ImageConfig {
  name: string;
  /** Relative to the repository root, normalised, "" = root. */
  context: string;
  /** Relative to the repository root. */
  dockerfile: string;
  target?: string;
  platforms: string[];
  buildArgs: Record<string, string>;
  /** Image labels from the file (the default OCI labels are added by the worker); absent when none. */
  labels?: Record<string, string>;
  /** Path globs in file order; empty = every change builds. */
  paths: string[];
  /** Tag templates as written; undefined = the defaults of the ref kind. */
  tags?: string[];
  push: PushPolicy;
  cache: CacheSetting;
  /** Explicit repository; undefined = derived from the registry prefix. */
  repository?: string;
  /** 1-based line of the image entry, for messages about it. */
  line: number;
  /** Ids of the operator's build secrets the build may mount, as listed; undefined = none. */
  secrets?: string[];
  /** 1-based line of each `secrets` entry (the grant check points there). */
  secretLines?: number[];
  /** `checks.fail_on: warning`: any Dockerfile build check finding fails the build (absent = findings are only reported). */
  checksFailOn?: "warning";
  /** `provenance:` as the file sets it (absent keys: branch and tag pushes `max`, pull requests `min`). */
  provenance?: ProvenanceSetting;
  /** `sbom: true`: BuildKit's `attest:sbom` is passed through (absent = no SBOM). */
  sbom?: true;
  /** `merge_queue.reuse: false`: merge groups build this image even when their pull request's image could be copied (absent = reuse). */
  mergeQueueReuse?: false;
  /** 1-based lines of `repository:` and `cache.ref` when the file sets them (the namespace check points there). */
  refLines?: { repository?: number; cacheRef?: number };
}
