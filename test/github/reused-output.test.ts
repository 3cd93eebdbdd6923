import { test } from "node:test";
import assert from "node:assert/strict";
import { renderSucceeded } from "../../src/github/check-run-output.js";

const PR_SHA = "0123456789abcdef0123456789abcdef01234567";
const DIGEST = `sha256:${"d".repeat(64)}`;

test("a reused merge group image: the title and summary name the pull request and its commit, the digest and the tags; no steps", () => {
  const out = renderSucceeded("app", {
    tags: ["127.0.0.1:5000/acme/app:sha-89abcde"],
    pushed: true,
    digest: DIGEST,
    durationMs: 900,
    stepsDone: 0,
    stepsTotal: 0,
    cachedSteps: 0,
    reusedFrom: { sha: PR_SHA, pr: 11 },
  });
  assert.match(out.title, /^Reused from PR #11 \(0123456\) in /);
  assert.ok(out.summary.includes(`PR #11 at \`${PR_SHA}\``), out.summary);
  assert.ok(out.summary.includes(DIGEST), out.summary);
  assert.ok(out.summary.includes("- `127.0.0.1:5000/acme/app:sha-89abcde`"), out.summary);
  assert.match(out.summary, /Revision label \| `0123456789abcdef0123456789abcdef01234567` \(the pull request's commit\)/);
  assert.doesNotMatch(out.summary, /Steps/);
});

test("a merge group built instead of reused says why", () => {
  const out = renderSucceeded("app", {
    tags: [],
    pushed: false,
    durationMs: 5000,
    stepsDone: 2,
    stepsTotal: 2,
    cachedSteps: 1,
    reuseNote: "copying the image of PR #11 at 0123456 failed: manifest unknown",
  });
  assert.match(out.title, /^Built in /);
  assert.ok(out.summary.includes("Not reused from the pull request's build: copying the image of PR #11 at 0123456 failed: manifest unknown"), out.summary);
});
