import type { ProbotOctokit } from "probot";

/**
 * Octokit's `request`, typed by GitHub's OpenAPI description: a known route's parameters and answer are checked at
 * compile time (`request("POST /repos/{owner}/{repo}/check-runs", …)` answers a check run). Probot's
 * `octokit.request` is one, so it is handed over as it is.
 */
export type OctokitRequest = ProbotOctokit["request"];
