import type { ProbotOctokit } from "probot";
import { httpStatusOf } from "../errors/index.js";
import { appWidePauseMs } from "../github/index.js";
import { githubRefusals, githubRequests, githubWrites } from "./app-metrics.js";

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);
const METHODS = new Set(["GET", "HEAD", ...WRITE_METHODS]);

/** What an Octokit plugin is given: the part of Octokit's API this one uses. */
type HookedOctokit = Pick<InstanceType<typeof ProbotOctokit>, "hook">;

function statusClass(status: number | undefined): string {
  return status === undefined || status < 100 || status > 599 ? "error" : `${Math.floor(status / 100)}xx`;
}

function primaryLimitHit(err: unknown): boolean {
  const headers = (err as { response?: { headers?: Record<string, unknown> } } | undefined)?.response?.headers;
  return String(headers?.["x-ratelimit-remaining"] ?? "") === "0";
}

/** Minting an installation token is a POST, but not a write GitHub's content-creation limits count. */
const TOKEN_MINT = /\/access_tokens$/;

function record(method: string, url: string, status: number | undefined, err?: unknown): void {
  const answer = statusClass(status);
  githubRequests.labels(METHODS.has(method) ? method : "OTHER", answer).inc();
  if (WRITE_METHODS.has(method) && !TOKEN_MINT.test(url)) githubWrites.labels(answer).inc();
  if (err === undefined || (status !== 403 && status !== 429)) return;
  if (appWidePauseMs(err) !== undefined) githubRefusals.labels("secondary").inc();
  else if (primaryLimitHit(err)) githubRefusals.labels("primary").inc();
}

/**
 * An Octokit plugin that counts every request the app makes to GitHub after the webhook, by method and class of
 * answer, its writes apart, and the rate-limit refusals. The URL is never a label (it holds owners and repositories).
 */
export function githubRequestMetrics(octokit: HookedOctokit): void {
  octokit.hook.wrap("request", async (request, options) => {
    const method = (options.method ?? "GET").toUpperCase();
    const url = options.url ?? "";
    try {
      const response = await request(options);
      record(method, url, response.status);
      return response;
    } catch (err) {
      record(method, url, httpStatusOf(err), err);
      throw err;
    }
  });
}
