import { ConnectionError, GitCloneRefusedError, PushRefusedError, RegistryError } from "@buildkit-bot/buildkit";
import { RepoReadError } from "../github/index.js";
import { QueueUnavailableError } from "../queue/index.js";

/** Why an attempt of a build ended early, in words a check run can count ("the builder was lost once"). */
export type AttemptCause =
  | "the builder was lost"
  | "the worker was lost"
  | "the worker was stopped"
  | "the builder's clone of the repository was damaged"
  | "the registry was unavailable"
  | "GitHub was unavailable"
  | "Redis was unavailable"
  | "an attempt failed";

/** The cause of a transient failure that ends an attempt (or of what it wraps), for the build's attempt history. */
export function attemptCause(err: unknown): AttemptCause {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ConnectionError) return "the builder was lost";
    if (e instanceof GitCloneRefusedError && e.failure === "damaged-cache") return "the builder's clone of the repository was damaged";
    if (e instanceof PushRefusedError || e instanceof RegistryError) return "the registry was unavailable";
    if (e instanceof QueueUnavailableError) return "Redis was unavailable";
    if (e instanceof RepoReadError || e.name === "HttpError") return "GitHub was unavailable";
  }
  return "an attempt failed";
}
