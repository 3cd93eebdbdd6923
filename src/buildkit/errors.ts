/**
 * One error hierarchy for everything the BuildKit client can fail with. Every error carries a stable `code`
 * (for programs and exit codes), a message a person can act on, and `transient`: whether the same request may
 * succeed if simply tried again later (daemon or registry away, 5xx, rate limit). Each class sets its own flag.
 * Messages never contain secrets: callers pass them through the session's redactor before constructing an error.
 */
export const BuildKitErrorCode = {
  Connection: "CONNECTION",
  Unsupported: "UNSUPPORTED_BY_DAEMON",
  GitCloneRefused: "GIT_CLONE_REFUSED",
  DockerfileParse: "DOCKERFILE_PARSE",
  StepFailed: "STEP_FAILED",
  Push: "PUSH_REFUSED",
  Registry: "REGISTRY",
  Cancelled: "CANCELLED",
  Solve: "SOLVE_FAILED",
  InvalidRequest: "INVALID_REQUEST",
  EngineApi: "ENGINE_API",
} as const;
export type BuildKitErrorCode = (typeof BuildKitErrorCode)[keyof typeof BuildKitErrorCode];

export interface BuildKitErrorOptions {
  cause?: unknown;
  /** Whether a later attempt of the same request may succeed. Default false. */
  transient?: boolean;
}

export class BuildKitError extends Error {
  readonly code: BuildKitErrorCode;
  /** A later attempt of the same request may succeed (the far side was away or overloaded); never a user mistake. */
  readonly transient: boolean;
  constructor(code: BuildKitErrorCode, message: string, options?: BuildKitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = options?.transient ?? false;
  }
}

/** The daemon cannot be reached (nothing listens, TLS refused, the Engine's /grpc upgrade failed). Transient. */
export class ConnectionError extends BuildKitError {
  constructor(
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(BuildKitErrorCode.Connection, message, { ...options, transient: true });
  }
}

/** The request asks for something this daemon cannot do (e.g. a git subdir on BuildKit 0.8). */
export class UnsupportedByDaemonError extends BuildKitError {
  constructor(
    readonly feature: string,
    message: string,
  ) {
    super(BuildKitErrorCode.Unsupported, message);
  }
}

/** The request itself is invalid before anything is sent (bad platform string, empty tag list for a push…). */
export class InvalidRequestError extends BuildKitError {
  constructor(message: string) {
    super(BuildKitErrorCode.InvalidRequest, message);
  }
}

/**
 * An InvalidRequestError about one option of a build: `option` names it the way the caller wrote it (a CLI flag
 * such as `--platform`, a builder method such as `platform()`), so front ends can point at it.
 */
export class InvalidOptionError extends InvalidRequestError {
  constructor(
    readonly option: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why the git context could not be fetched: the git host unreachable from the daemon, the ref missing, access
 * refused (a wrong, expired or revoked token, or a repository the token does not reach), or the daemon's own clone
 * of the remote damaged (objects missing or corrupt: `BuildKitClient.forgetGitRemote` clears it).
 */
export type GitCloneFailure = "unreachable" | "missing-ref" | "refused" | "damaged-cache";

/** The daemon could not fetch the git context: wrong or missing token, unknown repository or ref, its clone damaged. */
export class GitCloneRefusedError extends BuildKitError {
  readonly failure: GitCloneFailure;
  constructor(
    readonly remote: string,
    message: string,
    options?: { cause?: unknown; failure?: GitCloneFailure },
  ) {
    super(BuildKitErrorCode.GitCloneRefused, message, options);
    this.failure = options?.failure ?? "refused";
  }
}

export interface SourceLocation {
  /** Dockerfile path as given to the frontend. */
  file: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
}

/** The Dockerfile could not be parsed or converted (unknown instruction, bad stage reference, …). */
export class DockerfileParseError extends BuildKitError {
  constructor(
    message: string,
    readonly location?: SourceLocation,
    options?: { cause?: unknown },
  ) {
    super(BuildKitErrorCode.DockerfileParse, message, options);
  }
}

/**
 * The Dockerfile's build checks found violations and `BUILDKIT_DOCKERFILE_CHECK` asked for `error=true`, so
 * BuildKit (v0.14+) stopped before building anything: "lint violation found for rules: …". The findings
 * themselves arrive as progress warnings, one per rule and line.
 */
export class DockerfileChecksFailedError extends DockerfileParseError {
  constructor(
    /** Rule names, e.g. `FromAsCasing`, as the daemon listed them. */
    readonly rules: string[],
    options?: { cause?: unknown },
  ) {
    super(
      `the Dockerfile's build checks found violations${rules.length > 0 ? ` of ${rules.join(", ")}` : ""}; with BUILDKIT_DOCKERFILE_CHECK error=true any finding fails the build before anything is exported`,
      undefined,
      options,
    );
  }
}

/** A build step (usually RUN) failed. */
export class StepFailedError extends BuildKitError {
  constructor(
    message: string,
    readonly step: string,
    readonly exitCode: number | undefined,
    readonly logTail: string[],
    readonly location?: SourceLocation,
    options?: { cause?: unknown },
  ) {
    super(BuildKitErrorCode.StepFailed, message, options);
  }
}

/** The registry refused the push (auth, unreachable, 4xx/5xx). `transient` marks what a retry may fix. */
export class PushRefusedError extends BuildKitError {
  constructor(
    readonly registry: string,
    message: string,
    transient = false,
    options?: { cause?: unknown },
  ) {
    super(BuildKitErrorCode.Push, message, { ...options, transient });
  }
}

/**
 * A registry HTTP API call failed. `registryCode`/`registryMessage` are the first entry of the registry's JSON error
 * body. Transient for 5xx, 429, and when no answer came at all (`status` undefined).
 */
export class RegistryError extends BuildKitError {
  readonly registryCode?: string;
  readonly registryMessage?: string;
  constructor(
    readonly registry: string,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown; registryCode?: string; registryMessage?: string },
  ) {
    super(BuildKitErrorCode.Registry, message, {
      cause: options?.cause,
      transient: status === undefined || status >= 500 || status === 429,
    });
    this.registryCode = options?.registryCode;
    this.registryMessage = options?.registryMessage;
  }
}

/**
 * The Docker Engine API answered a request with an error status (no such image, conflict, daemon error).
 * Transient for 5xx: the Engine itself failed, not the request.
 */
export class EngineApiError extends BuildKitError {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(BuildKitErrorCode.EngineApi, message, { ...options, transient: status >= 500 });
  }
}

/** The build was cancelled through its AbortSignal. */
export class BuildCancelledError extends BuildKitError {
  constructor(
    message = "build cancelled",
    readonly reason?: unknown,
  ) {
    super(BuildKitErrorCode.Cancelled, message);
  }
}

/** Any other solve failure, with the daemon's message (redacted). */
export class SolveError extends BuildKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(BuildKitErrorCode.Solve, message, options);
  }
}
