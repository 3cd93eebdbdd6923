import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PayloadError } from "../../src/handlers/handler-result.js";
import { int, obj, optItems, optStr, sha, str } from "../../src/handlers/payload-fields.js";
import { payloadFields } from "../../src/intake/payload-types.js";
import { examplePayload } from "../support/webhooks.js";

describe("payload field readers, typed by GitHub's webhook payloads", () => {
  it("read a real push payload's fields", () => {
    const push = payloadFields("push", examplePayload("push"));
    assert.match(str(push, "ref", "payload"), /^refs\//);
    assert.match(sha(push, "after", "payload"), /^[0-9a-f]{40}$/);
    const repository = obj(push, "repository", "payload");
    assert.equal(typeof int(repository, "id", "repository"), "number");
    assert.equal(typeof optStr(obj(repository, "owner", "repository"), "login"), "string");
    assert.ok(Array.isArray(optItems(push, "commits")));
  });

  it("refuse a value of the wrong type, naming the field", () => {
    const push = payloadFields("push", { ref: 7, repository: { id: "1" }, commits: "none" });
    assert.throws(() => str(push, "ref", "payload"), (err: unknown) => err instanceof PayloadError && err.message === "payload.ref is missing or not a string");
    assert.throws(() => int(obj(push, "repository", "payload"), "id", "repository"), /repository\.id is missing or not an integer/);
    assert.equal(optItems(push, "commits"), undefined);
    assert.equal(optStr(payloadFields("push", null), "ref"), undefined);
  });

  it("take only field names GitHub sends (checked by the type checker)", () => {
    const push = payloadFields("push", { ref: "refs/heads/main" });
    // @ts-expect-error -- `reff` is not a field of a push payload
    assert.throws(() => str(push, "reff", "payload"), PayloadError);
    const run = obj(payloadFields("check_run", { check_run: { head_sha: "x" } }), "check_run", "payload");
    // @ts-expect-error -- a check run has `head_sha`, not `sha`
    assert.equal(optStr(run, "sha"), undefined);
    // A field of one action's payload only (`requested_action`) is a field of the event.
    assert.equal(optStr(payloadFields("check_run", {}), "requested_action"), undefined);
  });
});
