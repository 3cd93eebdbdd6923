import assert from "node:assert/strict";
import { Octokit } from "@octokit/core";
import nock from "nock";

export const API = "https://api.github.com";

/** An Octokit for nock'd tests: no retries, a fake token that exists nowhere. */
export function testOctokit(): Octokit {
  return new Octokit({ auth: "ghs_faketokenfortests000000000000000000" });
}

/** Blocks real network calls; call `assertAllUsed` after each test and `restore` at the end. */
export function nockGitHub(): { scope: nock.Scope; assertAllUsed(): void; restore(): void } {
  nock.disableNetConnect();
  const scope = nock(API);
  return {
    scope,
    assertAllUsed() {
      const pending = nock.pendingMocks();
      nock.cleanAll();
      assert.deepEqual(pending, [], "GitHub calls were expected but never made");
    },
    restore() {
      nock.cleanAll();
      nock.enableNetConnect();
    },
  };
}

export function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function contentsBody(path: string, text: string): Record<string, unknown> {
  return { type: "file", encoding: "base64", path, content: base64(text) };
}
