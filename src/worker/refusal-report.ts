import type { Probot, ProbotOctokit } from "probot";
import { httpStatusOf } from "../errors/index.js";
import type { OctokitRequest } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import { OutsideNamespacesError } from "../tenancy/index.js";
import { TenantRefusedError } from "./namespace-guard.js";

/** A job the worker's own guard refused (see namespace-guard.ts): its data is not trusted. */
export function isRefusal(err: unknown): err is OutsideNamespacesError | TenantRefusedError {
  return err instanceof OutsideNamespacesError || err instanceof TenantRefusedError;
}

/** Where a refusal is reported: through `request`, or (undefined) nowhere on GitHub, with why. */
export type RefusalChannel = { request: OctokitRequest } | { request: undefined; why: string };

/** All a refusal's report needs: the run's conclusion and the commit status. */
const REPORT_PERMISSIONS = { checks: "write", statuses: "write" } as const;

/**
 * How the refusal of `job` may be written to GitHub without the job choosing where. The job's installation is
 * asked for a token limited to the job's one repository (by id) and to checks and statuses: GitHub then refuses
 * any write the job points elsewhere — a check run id of another repository, a repository name not the id's.
 * When the job's owner and its installation's account disagree, either may be the forged one: nothing is written.
 * Nothing is written either when no such token can be had (the repository is not the installation's). Such a run
 * stays open: the planner struck its slot from the ledger when it handed the run over, so the orphaned-check-runs
 * sweep does not list it, and the refusal ends the in-flight entry, whose reconciler would write where the job says.
 */
export async function refusalChannel(job: BuildJob, err: OutsideNamespacesError | TenantRefusedError, github: Pick<Probot, "auth">): Promise<RefusalChannel> {
  if (err instanceof TenantRefusedError && err.ownerDisagrees) return { request: undefined, why: "the job's owner is not its installation's account" };
  try {
    const app = await github.auth();
    const { data } = await app.request("POST /app/installations/{installation_id}/access_tokens", {
      installation_id: job.repository.installationId,
      repository_ids: [job.repository.repoId],
      permissions: { ...REPORT_PERMISSIONS },
    });
    // A fresh client of the same class (the app's plugins), authenticated by the confined token alone.
    const Octokit = app.constructor as typeof ProbotOctokit;
    const confined = new Octokit({ auth: { token: data.token }, baseUrl: app.request.endpoint.DEFAULTS.baseUrl, log: app.log });
    return { request: confined.request };
  } catch (mintErr) {
    const status = httpStatusOf(mintErr);
    return { request: undefined, why: `no token for repository ${job.repository.repoId} of installation ${job.repository.installationId}${status === undefined ? "" : ` (HTTP ${status})`}` };
  }
}
