import type { Probot } from "probot";
import type { OctokitRequest } from "../github/reporter.js";
import type { WriteBudget } from "../github/write-budget.js";
import type { CheckRunHandoff } from "../queue/check-run-handoff.js";
import type { BuildJob } from "../queue/job-types.js";
import { supersededMessage } from "../queue/supersede-reporter.js";
import type { SupersededBy, SupersedeReporter } from "../queue/supersede-reporter.js";
import type { LogStore } from "../web/log-store.js";
import { logPageUrl } from "../web/log-token.js";
import { reporterForBuild } from "./build-reporter.js";
import type { InFlightBuilds } from "./in-flight-builds.js";

export interface GitHubSupersedeReporterDeps {
  github: Pick<Probot, "auth">;
  budget: WriteBudget;
  logs: LogStore;
  inFlight: InFlightBuilds;
  handoff: CheckRunHandoff;
  publicBaseUrl?: string;
}

const SUPERSEDED_RUN_WAIT_MS = 60_000;

/**
 * Reports a superseded build through the build's reporter: check run `cancelled` and status `error`, both saying
 * "superseded by <sha7>"; its log (opened if the build never started) ends as cancelled.
 */
export class GitHubSupersedeReporter implements SupersedeReporter {
  constructor(private readonly deps: GitHubSupersedeReporterDeps) {}

  async superseded(build: BuildJob, by: SupersededBy): Promise<void> {
    const message = supersededMessage(by.sha);
    const token = await this.deps.logs.open(build.buildId);
    const detailsUrl = this.deps.publicBaseUrl ? logPageUrl(this.deps.publicBaseUrl, token) : undefined;
    const octokit = await this.deps.github.auth(build.repository.installationId);
    const reporter = reporterForBuild(
      octokit.request as unknown as OctokitRequest,
      this.deps.budget,
      {
        owner: build.repository.owner,
        repo: build.repository.repo,
        sha: build.sha,
        image: build.image.name,
        // Bounded: this runs inside the superseding planner's enqueue, and a check run create takes a round trip.
        checkRunId: this.deps.handoff.of(build, { timeoutMs: SUPERSEDED_RUN_WAIT_MS }),
      },
      detailsUrl,
    );
    await reporter.checkRunCancelled(message);
    await this.deps.logs.finish(build.buildId, "cancelled", message);
    await this.deps.inFlight.end(build.buildId);
  }
}
