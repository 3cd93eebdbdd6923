/**
 * What a caller asks the client to build. Transport- and daemon-neutral: the client turns it into
 * FrontendAttrs, exporters, cache options and session services for the daemon it is connected to.
 */
export type BuildContext =
  | {
      type: "git";
      /** `https://host[:port]/owner/repo.git` — never with credentials in it. */
      remote: string;
      /** Branch, tag, full ref or commit sha. Pin a sha for reproducible builds. */
      ref: string;
      /** Subdirectory of the repository used as the context (and where the Dockerfile is looked up). */
      subdir?: string;
    }
  | {
      type: "local";
      /** Directory sent as the `context` local dir. */
      dir: string;
      /** Directory sent as the `dockerfile` local dir; defaults to the directory of `dockerfile`, else `dir`. */
      dockerfileDir?: string;
    };

/**
 * A cache to import or export. `registry`: `ref` (and `mode` for exports); `inline`: no attrs, export only;
 * `local`: an OCI layout directory on the client, `dest` (and `mode`) to export, `src` to import — buildkitd reads
 * and writes it through the session, the client records the exported cache in `index.json` under `latest`.
 */
export interface CacheEntry {
  type: "registry" | "inline" | "local";
  attrs?: Record<string, string>;
}

export interface RegistryCredential {
  /** host[:port] as the daemon dials it, e.g. `ghcr.io`, `127.0.0.1:5000`. */
  host: string;
  username: string;
  password: string;
}

export type BuildOutput =
  | {
      type: "image";
      /** Full image names, e.g. `ghcr.io/owner/repo:tag`. */
      names: string[];
      push: boolean;
      /** Plain-HTTP or self-signed registry. */
      insecure?: boolean;
      /**
       * Push to each name's repository by digest only, no tag (`push-by-digest`, `name-canonical`): a part of an
       * image whose index is written afterwards (see `pushImageIndex`). Needs `push`; a daemon that pushes through
       * the Engine API (Docker Engine's classic store) refuses it.
       */
      pushByDigest?: boolean;
    }
  | { type: "local"; dest: string }
  | { type: "tar"; dest: string };

export interface BuildRequest {
  context: BuildContext;
  /** Dockerfile path relative to the context (or the dockerfile dir for local builds). Default `Dockerfile`. */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  /** `os/arch[/variant]` strings. */
  platforms?: string[];
  noCache?: boolean;
  /** Always pull base images (`image-resolve-mode=pull`). */
  pull?: boolean;
  /** Build secrets for `RUN --mount=type=secret,id=…`. */
  secrets?: Record<string, string | Buffer>;
  /** Git token for the context's host; served only as `GIT_AUTH_TOKEN.<host[:port]>`. */
  gitAuthToken?: string;
  registryAuth?: RegistryCredential[];
  cacheImports?: CacheEntry[];
  cacheExports?: CacheEntry[];
  output?: BuildOutput;
  /**
   * Attestations the image exporter pushes with the image (`attest:provenance=mode=…`, `attest:sbom`): the image is
   * then an index with an `unknown/unknown` attestation manifest per platform. Needs BuildKit v0.11+ and an
   * exporter that writes an index (`DaemonCapabilities.attestations`); refused otherwise.
   */
  attestations?: AttestationRequest;
}

export interface AttestationRequest {
  /** SLSA provenance: `min` (materials, timestamps) or `max` (also build args, the Dockerfile, layer sources). */
  provenance?: "min" | "max";
  /** An SBOM by BuildKit's default scanner image, which the daemon must be able to pull. */
  sbom?: boolean;
}

export interface BuildTimings {
  /** Wall time of the Solve RPC. */
  solveMs: number;
  /** Extra time spent pushing after the solve (Engine path); 0 when the exporter pushed. */
  pushMs: number;
  totalMs: number;
}

export interface BuildResult {
  /** Pushed manifest digest as the registry reports it; for unpushed builds, the exporter's digest if any. */
  digest?: string;
  /** Names the image was pushed / tagged under. */
  names: string[];
  exporterResponse: Record<string, string>;
  timings: BuildTimings;
  steps: { total: number; cached: number; completed: number };
}
