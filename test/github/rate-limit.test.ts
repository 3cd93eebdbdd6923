import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SECONDARY_PAUSE_MS, appWidePauseMs } from "../../src/github/rate-limit.js";

const httpError = (status: number, headers: Record<string, string>, message = "") => Object.assign(new Error(message), { status, response: { headers, data: { message } } });

test("which GitHub answers pause every write of the app, and for how long", () => {
  assert.equal(appWidePauseMs(httpError(429, { "retry-after": "7" })), 7_000);
  assert.equal(appWidePauseMs(httpError(429, {})), DEFAULT_SECONDARY_PAUSE_MS);
  assert.equal(appWidePauseMs(httpError(403, { "retry-after": "30" }, "You have exceeded a secondary rate limit.")), 30_000);
  assert.equal(appWidePauseMs(httpError(403, {}, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")), 60_000);
  // A primary limit is one installation's: no app-wide pause (the job's own retry honours its reset).
  assert.equal(appWidePauseMs(httpError(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1900000000" }, "API rate limit exceeded")), undefined);
  assert.equal(appWidePauseMs(httpError(403, {}, "Resource not accessible by integration")), undefined);
  assert.equal(appWidePauseMs(httpError(500, { "retry-after": "5" })), undefined);
  assert.equal(appWidePauseMs(new Error("socket hang up")), undefined);
  assert.equal(appWidePauseMs(undefined), undefined);
});
