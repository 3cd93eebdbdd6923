import { DockerfileParseError, StepFailedError } from "@buildkit-bot/buildkit";
import type { Redactor } from "@buildkit-bot/buildkit";
import type { BuildFailure, BuildProgress, FailureLocation } from "../github/index.js";

/**
 * What the check run says about an error that ends the build: for a failed step its name, exit code, the tail
 * of its log and the Dockerfile lines; for a Dockerfile error the line it points at; otherwise the message.
 * The build's secrets are redacted once more on top of what the client already did. The Dockerfile's path is from the
 * repository root, where a check run annotation needs it: a standalone buildkitd's error details name the file as
 * the frontend was given it (relative to the build context), which `dockerfile` maps back.
 */
export function failureOf(
  err: unknown,
  ctx: {
    redactor: Redactor;
    /** How long the build ran, when an attempt of it ran here. */
    durationMs?: number;
    /** The build's attempts so far, when it was retried. */
    attempts?: { count: number; earlier: readonly string[] };
    progress?: BuildProgress;
    recentLog?: readonly string[];
    /** The build's Dockerfile as the frontend was given it, and its path in the repository. */
    dockerfile?: { inContext: string; path: string };
  },
): BuildFailure {
  const clean = (text: string): string => secretHint(ctx.redactor.redact(text));
  const base = {
    ...(ctx.durationMs !== undefined ? { durationMs: ctx.durationMs } : {}),
    ...(ctx.attempts ? { attempts: ctx.attempts } : {}),
    ...(ctx.progress && ctx.progress.stepsTotal > 0 ? { stepsDone: ctx.progress.stepsDone, stepsTotal: ctx.progress.stepsTotal } : {}),
  };
  // A failure the client could not tie to a step (or a step whose own tail it never saw) still shows the end of the log.
  const recent = (ctx.recentLog ?? []).map(clean);
  const where = (location: FailureLocation): FailureLocation => ({
    file: ctx.dockerfile && location.file === ctx.dockerfile.inContext ? ctx.dockerfile.path : location.file,
    startLine: location.startLine,
    endLine: location.endLine,
  });
  if (err instanceof StepFailedError) {
    return {
      ...base,
      message: clean(err.message),
      step: clean(err.step),
      ...(err.exitCode !== undefined ? { exitCode: err.exitCode } : {}),
      log: err.logTail.length > 0 ? err.logTail.map(clean) : recent,
      ...(err.location ? { location: where(err.location) } : {}),
    };
  }
  if (err instanceof DockerfileParseError) {
    return {
      ...base,
      message: clean(err.message),
      log: [],
      ...(err.location ? { location: where(err.location) } : {}),
    };
  }
  return { ...base, message: clean(err instanceof Error ? err.message : String(err)), log: recent };
}

/**
 * BuildKit's "secret <id>: not found" (0.8: "secret <id> not found: not found") says only that the session did not serve the id; the check run says why:
 * the build mounts only the secrets its image lists and the operator gives the repository.
 */
function secretHint(text: string): string {
  const m = /secret ([A-Za-z0-9_.-]+):? not found/.exec(text);
  if (!m || text.includes("is not granted")) return text;
  return `${text} (the build secret "${m[1]}" is not granted to this build: it is mounted only when the image's \`secrets:\` in .github/buildkit-bot.yml lists it and the operator's tenants file gives it to this repository; pull requests from forks get none)`;
}

/** Replaces any secret in an error's message in place, so whatever logs or stores the error cannot leak it. */
export function scrubError(err: unknown, redactor: Redactor): void {
  if (!(err instanceof Error)) return;
  const message = redactor.redact(err.message);
  if (message !== err.message) {
    try {
      err.message = message;
    } catch {
      // A frozen error keeps its message; it came from the client, which redacts its own.
    }
  }
}
