import type { BuildJob } from "../queue/index.js";
import { secretsForRepository } from "../tenancy/index.js";
import type { ServedTenant } from "../tenancy/index.js";
import { AppError } from "../errors/index.js";

/** A job asks for build secrets its repository is not given (or asks for any on a fork's build): it was tampered with. */
export class UngrantedSecretError extends AppError {
  readonly code = "BUILD_SECRET_NOT_GRANTED";
  constructor(
    readonly ids: readonly string[],
    why: string,
  ) {
    super(`refused: ${why}; nothing was built`);
  }
}

/** A fork's pull request, by the job's flag or by a head repository other than the job's own. */
export function isForkJob(job: BuildJob): boolean {
  if (job.fork || job.pullRequest?.fork) return true;
  const head = job.pullRequest?.headRepoFullName;
  return head !== undefined && head.toLowerCase() !== `${job.repository.owner}/${job.repository.repo}`.toLowerCase();
}

/**
 * The build secrets one build mounts, by id: the ids the job lists, their values from the account's policy (looked
 * up by installation, never from the job). An id the tenants file does not give the job's repository refuses the
 * whole job, as does any id on a fork's build: the planner lets neither through, so only an edited job gets here.
 */
export function buildSecretsOfJob(job: BuildJob, policy: ServedTenant): Record<string, string> {
  const ids = job.image.secrets ?? [];
  if (ids.length === 0) return {};
  const quoted = (list: readonly string[]): string => list.map((id) => `"${id}"`).join(", ");
  if (isForkJob(job)) throw new UngrantedSecretError(ids, `a fork's pull request gets no build secrets, and this job asks for ${quoted(ids)}`);
  const granted = secretsForRepository(policy.buildSecrets, job.repository.repo);
  const missing = ids.filter((id) => !granted.has(id));
  if (missing.length > 0) {
    throw new UngrantedSecretError(missing, `the build secret${missing.length > 1 ? "s" : ""} ${quoted(missing)} ${missing.length > 1 ? "are" : "is"} not granted to ${job.repository.owner}/${job.repository.repo} by the operator's tenants file`);
  }
  return Object.fromEntries(ids.map((id) => [id, granted.get(id)!]));
}
