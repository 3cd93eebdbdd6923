import type { BuildRequest } from "@buildkit-bot/buildkit";
import type { BuildJob } from "../queue/index.js";
import { namespaceViolations, OutsideNamespacesError } from "../tenancy/index.js";
import type { NamespaceViolation, ServedTenant, Tenants } from "../tenancy/index.js";
import { AppError } from "../errors/index.js";

/** The job's account is not served (only a job written into Redis by hand gets this far: the planner refuses first). */
export class TenantRefusedError extends AppError {
  readonly code = "TENANT_REFUSED";
  /**
   * @param ownerDisagrees the job's owner and its installation's account differ: either may be the forged one, so
   * nothing the job names may be written to (see refusal-report.ts).
   */
  constructor(
    reason: string,
    readonly ownerDisagrees = false,
  ) {
    super(`refused: ${reason}`);
  }
}

/**
 * The account's policy for a build job, from the operator's tenants, for `accountLogin`: the installation's
 * account as GitHub names it (the worker asks), never from anything the job claims about namespaces or
 * credentials. A job whose owner is not that account is refused.
 */
export function policyOfJob(tenants: Tenants, job: BuildJob, accountLogin: string = job.repository.owner): ServedTenant {
  if (accountLogin.toLowerCase() !== job.repository.owner.toLowerCase()) {
    throw new TenantRefusedError(`the job names ${job.repository.owner} as the owner, but installation ${job.repository.installationId} belongs to ${accountLogin}`, true);
  }
  const policy = tenants.policyFor({ accountLogin, installationId: job.repository.installationId });
  if (!policy.served) throw new TenantRefusedError(policy.reason);
  return policy;
}

/** Every registry reference the request would push to, export cache to, or import cache from. */
export function registryUses(request: BuildRequest): NamespaceViolation[] {
  const uses: NamespaceViolation[] = [];
  if (request.output?.type === "image") for (const name of request.output.names) uses.push({ use: "push", ref: name });
  for (const entry of request.cacheExports ?? []) if (entry.attrs?.ref !== undefined) uses.push({ use: "cache export", ref: entry.attrs.ref });
  for (const entry of request.cacheImports ?? []) if (entry.attrs?.ref !== undefined) uses.push({ use: "cache import", ref: entry.attrs.ref });
  return uses;
}

/**
 * The worker's own check, just before the solve: every reference of the request lies inside the account's
 * namespaces, else the job is refused whole (nothing is sent to the daemon). The planner checked the config; this
 * catches a job edited in Redis, or a plan that a bug let out. `pushedLater` are names the build pushes after the
 * solve (the branch's moving tags, by a manifest copy): checked here too, before anything is built.
 */
export function assertInNamespaces(request: BuildRequest, policy: ServedTenant, pushedLater: readonly string[] = []): void {
  const uses = [...registryUses(request), ...pushedLater.map((ref): NamespaceViolation => ({ use: "push", ref }))];
  const violations = namespaceViolations(uses, policy.namespaces);
  if (violations.length > 0) throw new OutsideNamespacesError(violations, policy.namespaces, policy.account.accountLogin);
}
