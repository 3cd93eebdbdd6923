import {
  BuildCancelledError,
  BuildKitError,
  ConnectionError,
  DockerfileChecksFailedError,
  DockerfileParseError,
  GitCloneRefusedError,
  PushRefusedError,
  SolveError,
  StepFailedError,
  UnsupportedByDaemonError,
} from "../errors.js";
import type { GitCloneFailure, SourceLocation } from "../errors.js";
import type { FailedStep, ProgressTracker } from "../progress/tracker.js";
import type { Redactor } from "../redact.js";
import { parseStepName } from "../progress/step-name.js";
import { decodeErrorDetails } from "./error-details.js";
import type { ErrorDetails } from "./error-details.js";
import { parseDockerfile } from "./dockerfile-instructions.js";
import { locateStep } from "./locate-step.js";

export interface ClassifyContext {
  tracker: ProgressTracker;
  /** The Dockerfile as the frontend was given it; `text` enables locating failed steps without details. */
  dockerfile?: { path: string; text?: string };
  /** The git context's remote, when building from git. */
  gitRemote?: string;
  redactor: Redactor;
  signal?: AbortSignal;
  /** Daemon address, for connection errors. */
  address?: string;
}

/** gRPC status codes this module cares about. */
const CANCELLED = 1;
const UNAVAILABLE = 14;

/** Engine 20.10 (and buildx, client-side) prefixes that say nothing to the reader. */
const NOISE_PREFIXES = [
  /^failed to solve with frontend dockerfile\.v0: /,
  /^failed to solve: /,
  /^failed to create LLB definition: /,
];

const NETWORK =
  /connection refused|no such host|i\/o timeout|network is unreachable|connection reset|TLS handshake timeout|dial tcp|\bEOF\b/i;
const SERVER_ERROR =
  /\b5\d\d\b|Service Unavailable|Bad Gateway|Gateway Timeout|Internal Server Error|\b429\b|Too Many Requests/i;
const EXEC_FAILURE = /executor failed running|did not complete successfully|exit code: \d+/;
const AUTH = /\b401\b|\b403\b|unauthorized|forbidden|denied|no basic auth credentials|authentication required/i;

/**
 * Turns whatever a Solve failed with into the typed error a caller can act on: cancelled, daemon unreachable,
 * git clone refused, push refused, Dockerfile invalid, step failed (with exit code, log tail and location), or
 * a generic solve error. Works with and without the daemon's typed details (Docker Engine 20.10 sends none);
 * every message is redacted and credentials are stripped from URLs.
 */
export function classifySolveError(err: unknown, ctx: ClassifyContext): BuildKitError {
  if (err instanceof BuildKitError) return err;
  const code = grpcCode(err);
  const text = displayText(rawMessage(err), ctx.redactor);

  if (ctx.signal?.aborted || code === CANCELLED) {
    return new BuildCancelledError("build cancelled", ctx.signal?.reason);
  }
  if (code === UNAVAILABLE || (code === undefined && isSocketError(err))) {
    const where = ctx.address ? ` at ${stripCredentials(ctx.redactor.redact(ctx.address))}` : "";
    return new ConnectionError(ctx.address ?? "", `cannot reach the BuildKit daemon${where}: ${text}`, { cause: err });
  }

  const details = decodeErrorDetails(err);
  const failed = ctx.tracker.failedStep();

  if (details.frontendCap) {
    return new UnsupportedByDaemonError(
      details.frontendCap,
      `the daemon lacks the frontend capability ${details.frontendCap}: ${text}`,
    );
  }

  // A process that ran and failed: its message quotes the command line, which may contain any words at all.
  const execFailure = details.exitCode !== undefined || EXEC_FAILURE.test(text);
  if (!execFailure) {
    const typed = classifyDaemonSide(err, text, details, failed, ctx);
    if (typed) return typed;
  }

  if (failed || execFailure) {
    const exitCode = details.exitCode ?? exitCodeOf(text) ?? exitCodeOf(failed?.error ?? "");
    // The tracker redacted these already, but possibly with another redactor than the caller's.
    const redact = (t: string) => ctx.redactor.redact(t);
    const step = redact(failed?.name ?? "");
    const location = stepLocation(failed?.name ?? "", details, ctx);
    const what = step ? `step ${step}` : "a build step";
    const message =
      exitCode !== undefined
        ? `${what} failed with exit code ${exitCode}`
        : `${what} failed: ${redact(failed?.error || text)}`;
    return new StepFailedError(message, step, exitCode, (failed?.logTail ?? []).map(redact), location, { cause: err });
  }

  return new SolveError(text || "the build failed", { cause: err });
}

/** Failures of the daemon's own work: fetching the git context, pushing, resolving images, the Dockerfile. */
function classifyDaemonSide(
  err: unknown,
  text: string,
  details: ErrorDetails,
  failed: FailedStep | undefined,
  ctx: ClassifyContext,
): BuildKitError | undefined {
  const git = gitFailure(text, failed?.name);
  if (git) {
    const remote = stripCredentials(ctx.redactor.redact(ctx.gitRemote ?? git.remote ?? "the git context"));
    const { failure, reason } = gitReason(text, failed?.logTail ?? []);
    return new GitCloneRefusedError(remote, `could not clone ${remote}: ${reason}`, { cause: err, failure });
  }

  if (isPushFailure(text, failed?.name)) {
    return pushRefused(text, registryOf(text), err);
  }

  const baseImage = failed && /^\[(?:\S+ )?internal\] load metadata for (\S+)/.exec(failed.name)?.[1];
  if (baseImage) {
    const reason = text.replace(`${baseImage}: `, "");
    return new SolveError(`could not resolve the base image ${baseImage}: ${reason}`, { cause: err });
  }

  const checks = LINT_VIOLATION.exec(text);
  if (checks) {
    const rules = (checks[1] ?? "").split(",").map((r) => r.trim()).filter((r) => r !== "");
    return new DockerfileChecksFailedError(rules, { cause: err });
  }

  if (isDockerfileError(text)) {
    const location = parseLocation(text, details, ctx);
    return new DockerfileParseError(text, location, { cause: err });
  }

  return undefined;
}

/**
 * Types an error from pushing an exported image (the Engine's push API reports failures as text inside its
 * stream, e.g. `no basic auth credentials`, `received unexpected HTTP status: 503 Service Unavailable`).
 */
export function classifyPushError(err: unknown, ctx: { registry: string; redactor: Redactor }): PushRefusedError {
  if (err instanceof PushRefusedError) return err;
  return pushRefused(displayText(rawMessage(err), ctx.redactor), ctx.registry, err);
}

function pushRefused(text: string, registry: string | undefined, cause: unknown): PushRefusedError {
  const where = registry ?? "the registry";
  const auth = AUTH.test(text);
  const transient = !auth && (NETWORK.test(text) || SERVER_ERROR.test(text));
  const hint = transient
    ? "the registry is unreachable or failing; retrying may help"
    : auth
      ? "check the registry credentials have push access to this repository"
      : "the registry refused the push";
  return new PushRefusedError(where, `could not push to ${where}: ${text} (${hint})`, transient, { cause });
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

function rawMessage(err: unknown): string {
  if (err === null || err === undefined) return "";
  if (typeof err === "string") return err;
  const { details, message } = err as { details?: unknown; message?: unknown };
  // grpc-js puts the daemon's text in `details`; `message` adds "2 UNKNOWN: " in front.
  if (typeof details === "string" && details) return details;
  if (typeof message === "string") return message.replace(/^\d+ [A-Z_]+: /, "");
  return String(err);
}

function displayText(raw: string, redactor: Redactor): string {
  let text = stripCredentials(redactor.redact(raw.trim()));
  for (let changed = true; changed; ) {
    changed = false;
    for (const prefix of NOISE_PREFIXES) {
      if (prefix.test(text)) {
        text = text.replace(prefix, "");
        changed = true;
      }
    }
  }
  return text;
}

/** `https://user:token@host/…` → `https://host/…` (the token may be unknown to the redactor). */
export function stripCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, "$1");
}

function isSocketError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(ECONNREFUSED|ENOENT|EACCES|ECONNRESET|EHOSTUNREACH|ETIMEDOUT)$/.test(code);
}

function gitFailure(text: string, failedStep: string | undefined): { remote?: string } | undefined {
  const fetch = /failed to fetch remote (\S+?): /.exec(text);
  if (fetch) return { remote: fetch[1] ?? "" };
  if (failedStep && /^(\[[^\]]*\] )?load git source /.test(failedStep)) {
    const remote = /load git source (\S+?)(?:#\S*)?$/.exec(failedStep)?.[1];
    return remote ? { remote } : {};
  }
  if (/failed to read dockerfile/.test(text) && /\bgit\b/.test(text)) return {};
  return undefined;
}

/**
 * git's words for objects missing from, or corrupt in, the repository it runs in: here the daemon's kept clone of
 * the remote, which a fetch trusts for every object it already lists.
 */
const DAMAGED_CLONE =
  /unable to read sha1 file|unable to unpack \S+ header|(?:loose|packed) object \S+ .*is corrupt|missing (?:blob|tree|commit) object|remote did not send all necessary objects|did not receive expected object|inflate: data stream error|unresolved deltas/i;

function gitReason(text: string, logTail: readonly string[]): { failure: GitCloneFailure; reason: string } {
  // Newer daemons say it in the error itself ("repository does not contain ref X"), older ones in git's log.
  const log = [...logTail, text].join("\n");
  if (/Could not resolve host|Failed to connect|Couldn't connect to server|Connection refused|timed out/i.test(log)) {
    return { failure: "unreachable", reason: "the git host is unreachable from the daemon" };
  }
  if (/couldn't find remote ref|did not match any|unknown revision|not our ref|does not contain ref/i.test(log)) {
    return { failure: "missing-ref", reason: "the requested ref does not exist in the repository" };
  }
  if (DAMAGED_CLONE.test(log)) {
    return {
      failure: "damaged-cache",
      reason: "the daemon's own clone of the repository is damaged (git objects missing or corrupt); it has to be cleared before the next build",
    };
  }
  return {
    failure: "refused",
    reason:
      "the daemon was refused access " +
      "(check the token has contents:read on this repository, and that the repository exists)",
  };
}

function isPushFailure(text: string, failedStep: string | undefined): boolean {
  if (/failed to push\b|\bpushing\b|push access denied|no basic auth credentials/i.test(text)) return true;
  const exporting = failedStep !== undefined && /^exporting to image|^pushing/i.test(failedStep);
  return exporting && (AUTH.test(text) || NETWORK.test(text) || SERVER_ERROR.test(text));
}

function registryOf(text: string): string | undefined {
  const pushed = /failed to push ([^/\s]+)\//.exec(text)?.[1];
  if (pushed) return pushed;
  const url = /https?:\/\/([^/\s"]+)\/v2\//.exec(text)?.[1];
  if (url) return url;
  return /dial tcp ([^\s:]+:\d+)/.exec(text)?.[1];
}

/** Messages of the Dockerfile frontend about the file itself (parse and conversion), not about running it. */
/** BuildKit v0.14+ with `BUILDKIT_DOCKERFILE_CHECK=error=true`, after the checks found something. */
const LINT_VIOLATION = /lint violation found for rules: ([A-Za-z0-9, ]*)/;

const DOCKERFILE_ERRORS = [
  /dockerfile parse error/i,
  /failed to parse dockerfile/i,
  /unknown instruction/i,
  /the Dockerfile cannot be empty/i,
  /dockerfile contains no stages/i,
  /file with no instructions/i,
  /target stage .* could not be found/i,
  /base name \(.*\) should not be blank/i,
  /circular dependency detected/i,
  /invalid stage name/i,
  /invalid from flag value/i,
  /requires .* arguments?/i,
  /failed to process /i,
];

function isDockerfileError(text: string): boolean {
  return DOCKERFILE_ERRORS.some((pattern) => pattern.test(text));
}

function parseLocation(text: string, details: ErrorDetails, ctx: ClassifyContext): SourceLocation | undefined {
  const fromDetails = detailsLocation(details, ctx);
  if (fromDetails) return fromDetails;
  const line = /\bline (\d+)\b/.exec(text)?.[1];
  if (line === undefined) return undefined;
  const startLine = Number(line);
  const file = ctx.dockerfile?.path ?? "Dockerfile";
  // The message names the first line; widen to the whole instruction when the text is at hand.
  const instruction = ctx.dockerfile?.text
    ? parseDockerfile(ctx.dockerfile.text).instructions.find((i) => i.startLine === startLine)
    : undefined;
  return { file, startLine, endLine: instruction?.endLine ?? startLine };
}

function stepLocation(step: string, details: ErrorDetails, ctx: ClassifyContext): SourceLocation | undefined {
  const fromDetails = detailsLocation(details, ctx);
  if (fromDetails) return fromDetails;
  if (!step || !ctx.dockerfile?.text || parseStepName(step).internal) return undefined;
  return locateStep(step, ctx.dockerfile.text, ctx.dockerfile.path);
}

function detailsLocation(details: ErrorDetails, ctx: ClassifyContext): SourceLocation | undefined {
  const source = details.sources[0];
  if (!source) return undefined;
  const file = source.filename || ctx.dockerfile?.path || "Dockerfile";
  return { file, startLine: source.startLine, endLine: source.endLine };
}

function exitCodeOf(text: string): number | undefined {
  const match = /exit code: (\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}
