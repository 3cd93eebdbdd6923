import { readError } from "./repo-reader.js";
import type { GitHubClient } from "./repo-reader.js";

/** One attempt at delivering a webhook to the App, as `GET /app/hook/deliveries` lists it. */
export interface HookDelivery {
  /** The attempt's id (what a redelivery is asked for). */
  id: number;
  /** The event's id, the `X-GitHub-Delivery` header: the same for a delivery and each of its redeliveries. */
  guid: string;
  deliveredAt: number;
  redelivery: boolean;
  /** `"OK"` when the app answered 2xx; otherwise what went wrong (`"Invalid HTTP Response: 503"`, `"timed out"`…). */
  status: string;
  statusCode: number;
  event: string;
  action: string | null;
}

/** GitHub's maximum page size for the deliveries list. */
const PER_PAGE = 100;

/**
 * The App's deliveries, newest first, a page at a time (cursor pagination through the `Link` header). Needs the
 * App's JWT (an Octokit from `probot.auth()` without an installation). A failed read throws a RepoReadError.
 */
export async function* listHookDeliveries(octokit: GitHubClient): AsyncGenerator<HookDelivery[]> {
  let cursor: string | undefined;
  do {
    let res;
    try {
      res = await octokit.request("GET /app/hook/deliveries", { per_page: PER_PAGE, ...(cursor ? { cursor } : {}) });
    } catch (err) {
      throw readError("listing the App's webhook deliveries", err);
    }
    yield res.data.map((d) => ({
      id: Number(d.id),
      guid: d.guid,
      deliveredAt: Date.parse(d.delivered_at),
      redelivery: d.redelivery,
      status: d.status,
      statusCode: d.status_code,
      event: d.event,
      action: d.action,
    }));
    cursor = nextCursor(res.headers.link);
  } while (cursor !== undefined);
}

/** Asks GitHub to send delivery `id` again (202; the redelivery happens after the answer). */
export async function redeliverHookDelivery(octokit: GitHubClient, id: number): Promise<void> {
  try {
    await octokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: id });
  } catch (err) {
    throw readError(`redelivering webhook delivery ${id}`, err);
  }
}

/** The `cursor` of the `rel="next"` link, if any. */
function nextCursor(link: string | undefined): string | undefined {
  for (const part of (link ?? "").split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (m?.[1]) return new URL(m[1]).searchParams.get("cursor") ?? undefined;
  }
  return undefined;
}
