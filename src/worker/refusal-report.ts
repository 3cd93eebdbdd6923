import type { Probot, ProbotOctokit } from "probot";
import { httpStatusOf } from "../errors/index.js";
import type { OctokitRequest } from "../github/index.js";
import type { BuildJob } from "../queue/index.js";
import { OutsideNamespacesError } from "../tenancy/index.js";
import { mintRepositoryToken } from "./installation-token.js";
import { TenantRefusedError } from "./namespace-guard.js";

/** A job the worker's own guard refused (see namespace-guard.ts): its data is not trusted. */
export function isRefusal(err: unknown): err is OutsideNamespacesError | TenantRefusedError {
  return err instanceof OutsideNamespacesError || err instanceof TenantRefusedError;
}

/** The job's repository as GitHub names it, and the only words written there. */
export interface RefusalElsewhere {
  owner: string;
  repo: string;
  message: string;
}

/**
 * Where a refusal is reported: through `request` (at `at`, in generic words, when the job's own names are not to be
 * trusted), or (undefined) nowhere on GitHub, with why.
 */
export type RefusalChannel = { request: OctokitRequest; at?: RefusalElsewhere } | { request: undefined; why: string };

/** All a refusal's report needs: the run's conclusion and the commit status. */
const REPORT_PERMISSIONS = { checks: "write", statuses: "write" } as const;

/** Written for a job whose owner is not its installation's account: it names neither. */
export const MISMATCH_MESSAGE = "refused: this build job's data does not match its installation";

/**
 * How the refusal of `job` may be written to GitHub without the job choosing where. The job's installation is
 * asked for a token limited to the job's one repository (by id) and to checks and statuses: GitHub then refuses
 * any write the job points elsewhere — a check run id of another repository, a repository name not the id's.
 * Nothing is written when no such token can be had (the repository is not the installation's). Such a run stays
 * open: the planner struck its slot from the ledger when it handed the run over, so the orphaned-check-runs sweep
 * does not list it, and the refusal ends the in-flight entry, whose reconciler would write where the job says.
 *
 * When the job's owner and its installation's account disagree, either may be the forged one, so neither the
 * job's names nor its reason are written: the token itself tells which repository it reaches, and the run and the
 * status are concluded there in MISMATCH_MESSAGE's words.
 */
export async function refusalChannel(job: BuildJob, err: OutsideNamespacesError | TenantRefusedError, github: Pick<Probot, "auth">): Promise<RefusalChannel> {
  let request: OctokitRequest;
  try {
    request = await confinedRequest(job, github);
  } catch (mintErr) {
    return { request: undefined, why: `no token for repository ${job.repository.repoId} of installation ${job.repository.installationId}${statusNote(mintErr)}` };
  }
  if (!(err instanceof TenantRefusedError && err.ownerDisagrees)) return { request };
  // The token reaches the one repository GitHub gave it, of the installation's own account: whatever the job
  // claims, this write can only land in the installation's own repository.
  const found = await repositoryOfToken(request, job.repository.repoId);
  if ("why" in found) return { request: undefined, why: found.why };
  return { request, at: { ...found, message: MISMATCH_MESSAGE } };
}

/** A client authenticated by a fresh token GitHub limits to the job's one repository, checks and statuses. */
async function confinedRequest(job: BuildJob, github: Pick<Probot, "auth">): Promise<OctokitRequest> {
  const app = await github.auth();
  const { token } = await mintRepositoryToken(app.request, job.repository.installationId, job.repository.repoId, REPORT_PERMISSIONS);
  // A fresh client of the same class (the app's plugins), authenticated by the confined token alone.
  const Octokit = app.constructor as typeof ProbotOctokit;
  return new Octokit({ auth: { token }, baseUrl: app.request.endpoint.DEFAULTS.baseUrl, log: app.log }).request;
}

/** The one repository the token reaches (`GET /installation/repositories`), when it is the one of id `repoId`. */
async function repositoryOfToken(request: OctokitRequest, repoId: number): Promise<{ owner: string; repo: string } | { why: string }> {
  try {
    const { data } = await request("GET /installation/repositories", { per_page: 2 });
    const [only, ...more] = data.repositories;
    if (only === undefined) return { why: `the token limited to repository ${repoId} reaches no repository` };
    if (more.length > 0 || data.total_count !== 1) return { why: `the token limited to repository ${repoId} reaches ${data.total_count} repositories` };
    if (only.id !== repoId) return { why: `the token limited to repository ${repoId} reaches another repository` };
    return { owner: only.owner.login, repo: only.name };
  } catch (lookupErr) {
    return { why: `the repository the token reaches could not be looked up${statusNote(lookupErr)}` };
  }
}

function statusNote(err: unknown): string {
  const status = httpStatusOf(err);
  return status === undefined ? "" : ` (HTTP ${status})`;
}
