import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HookDelivery } from "../../src/github/hook-deliveries.js";
import { failedDeliveries } from "../../src/recovery/failed-deliveries.js";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-03T12:00:00Z");
let nextId = 1;

function attempt(guid: string, status: string, opts: Partial<HookDelivery> = {}): HookDelivery {
  return { id: nextId++, guid, deliveredAt: NOW - HOUR, redelivery: false, status, statusCode: status === "OK" ? 200 : 503, event: "push", action: null, ...opts };
}

const filter = { events: new Set(["push", "pull_request"]), since: NOW - 6 * HOUR, maxRedeliveries: 3 };

describe("failedDeliveries", () => {
  it("groups attempts by guid: a delivery failed when none of its attempts is OK", () => {
    const attempts = [
      attempt("ok", "OK"),
      attempt("failed-then-ok", "Invalid HTTP Response: 503"),
      attempt("failed-then-ok", "OK", { redelivery: true, deliveredAt: NOW - HOUR / 2 }),
      attempt("failed", "Invalid HTTP Response: 503", { deliveredAt: NOW - 2 * HOUR }),
      attempt("failed", "failed to connect", { redelivery: true, deliveredAt: NOW - HOUR }),
      attempt("timed-out", "timed out", { deliveredAt: NOW - 3 * HOUR }),
    ];
    const failed = failedDeliveries(attempts, filter);
    assert.deepEqual(
      failed.map((f) => [f.guid, f.redeliveries, f.lastStatus]),
      [
        ["timed-out", 0, "timed out"],
        ["failed", 1, "failed to connect"],
      ],
      "oldest first",
    );
    // A redelivery is asked for the newest attempt.
    assert.equal(failed[1]!.attemptId, attempts[4]!.id);
  });

  it("leaves out events the app does not handle, deliveries before the window, and those redelivered enough", () => {
    const failed = failedDeliveries(
      [
        attempt("ping", "Invalid HTTP Response: 503", { event: "ping" }),
        attempt("old", "Invalid HTTP Response: 503", { deliveredAt: NOW - 7 * HOUR }),
        // Its first attempt is out of the window, though a redelivery is in it.
        attempt("old-redelivered", "Invalid HTTP Response: 503", { deliveredAt: NOW - 8 * HOUR }),
        attempt("old-redelivered", "Invalid HTTP Response: 503", { redelivery: true, deliveredAt: NOW - HOUR }),
        ...[1, 2, 3].map((n) => attempt("given-up", "Invalid HTTP Response: 503", { redelivery: n > 0, deliveredAt: NOW - HOUR + n })),
        attempt("given-up", "Invalid HTTP Response: 503", { deliveredAt: NOW - 2 * HOUR }),
        attempt("pr", "Invalid HTTP Response: 500", { event: "pull_request", action: "opened" }),
      ],
      filter,
    );
    assert.deepEqual(failed.map((f) => f.guid), ["pr"]);
  });
});
