import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redactor, REDACTED } from "../../src/buildkit/redact.js";

const TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}
function b64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

describe("Redactor", () => {
  it("replaces every occurrence of the raw secret", () => {
    const r = new Redactor([TOKEN]);
    assert.equal(r.redact(`token=${TOKEN} and again ${TOKEN}.`), `token=${REDACTED} and again ${REDACTED}.`);
  });

  it("replaces the standard base64 form, with and without padding", () => {
    const secret = "hunter2-pass"; // 12 bytes: base64 has no padding
    const padded = "hunter2-passw"; // 13 bytes: base64 ends in "=="
    const r = new Redactor([secret, padded]);
    assert.ok(b64(padded).endsWith("=="));
    assert.equal(r.redact(`a ${b64(secret)} b`), `a ${REDACTED} b`);
    assert.equal(r.redact(`a ${b64(padded)} b`), `a ${REDACTED} b`);
    assert.equal(r.redact(`a ${b64(padded).replace(/=+$/, "")} b`), `a ${REDACTED} b`);
  });

  it("replaces the URL-safe base64 form, with and without padding", () => {
    // Chosen so the standard encoding contains both '+' and '/'.
    const secret = "\u00fb\u00ef\u00bf?>secret";
    const std = b64(secret);
    assert.match(std, /[+/]/);
    const r = new Redactor([secret]);
    const url = b64url(secret);
    assert.notEqual(url, std.replace(/=+$/, ""));
    assert.equal(r.redact(`x ${url} y`), `x ${REDACTED} y`);
    const urlPadded = url + "=".repeat((4 - (url.length % 4)) % 4);
    assert.equal(r.redact(`x ${urlPadded} y`), `x ${REDACTED} y`);
  });

  it("replaces the git Basic header value base64(x-access-token:<secret>)", () => {
    const r = new Redactor([TOKEN]);
    const header = `Authorization: basic ${b64(`x-access-token:${TOKEN}`)}`;
    assert.equal(r.redact(header), `Authorization: basic ${REDACTED}`);
    // The exact header value git sent for token "wrongtoken123" (seen by a test server, Engine 20.10.24).
    const seen = new Redactor(["wrongtoken123"]);
    assert.equal(seen.redact("basic eC1hY2Nlc3MtdG9rZW46d3Jvbmd0b2tlbjEyMw=="), `basic ${REDACTED}`);
  });

  it("replaces the URL-encoded form of a secret with reserved characters", () => {
    const r = new Redactor(["p@ss/w:rd"]);
    assert.equal(r.redact("https://u:p%40ss%2Fw%3Ard@host/x"), `https://u:${REDACTED}@host/x`);
  });

  it("ignores empty and very short secrets", () => {
    const r = new Redactor(["", "a", "ab", "abc"]);
    assert.equal(r.size, 0);
    assert.equal(r.redact("a cab abc"), "a cab abc");
  });

  it("accepts secrets added later and keeps the earlier ones", () => {
    const r = new Redactor(["first-secret"]);
    r.add("second-secret");
    assert.equal(r.redact("first-secret second-secret"), `${REDACTED} ${REDACTED}`);
  });

  it("treats regex metacharacters in secrets literally", () => {
    const r = new Redactor(["a.b*c+d?(e)"]);
    assert.equal(r.redact("a.b*c+d?(e) axbbbcdde"), `${REDACTED} axbbbcdde`);
  });

  it("prefers the longest overlapping form, leaving no fragment behind", () => {
    const r = new Redactor(["secret", "secret-extended"]);
    assert.equal(r.redact("secret-extended"), REDACTED);
  });

  it("returns text unchanged when there is nothing to redact", () => {
    const r = new Redactor();
    const text = "nothing to see";
    assert.equal(r.redact(text), text);
    assert.equal(new Redactor([TOKEN]).redact(""), "");
  });
});
