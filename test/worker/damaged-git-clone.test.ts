import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitCloneRefusedError } from "../../src/buildkit/index.js";
import { GitCloneDamagedError, afterDamagedGitClone } from "../../src/worker/damaged-git-clone.js";

const REMOTE = "http://127.0.0.1:1/o/r.git";
const damaged = () => new GitCloneRefusedError(REMOTE, `could not clone ${REMOTE}: damaged`, { failure: "damaged-cache" });
const lines: string[] = [];
const log = { info: (_: object, msg?: string) => lines.push(`info ${msg}`), warn: (_: object, msg?: string) => lines.push(`warn ${msg}`), error: () => {} };

function builder(answer: () => Promise<string[]>) {
  const asked: string[] = [];
  return { asked, client: { address: "tcp://b:1", forgetGitRemote: async (remote: string) => (asked.push(remote), answer()) } };
}

describe("afterDamagedGitClone", () => {
  it("any other failure, a refused token among them, goes on as it is and asks no builder", async () => {
    const b = builder(async () => ["x"]);
    const refused = new GitCloneRefusedError(REMOTE, "refused", { failure: "refused" });
    for (const err of [refused, new Error("boom"), undefined]) assert.equal(await afterDamagedGitClone(err, REMOTE, [b.client], log), err);
    assert.deepEqual(b.asked, []);
  });

  it("a damaged clone: every builder of the build forgets the remote, and the attempt becomes a retry", async () => {
    const a = builder(async () => ["r1"]);
    const b = builder(async () => []);
    const cause = damaged();
    const err = await afterDamagedGitClone(cause, REMOTE, [a.client, b.client], log);
    assert.ok(err instanceof GitCloneDamagedError);
    assert.equal(err.transient, true);
    assert.equal(err.cause, cause);
    assert.deepEqual(err.deleted, ["r1"]);
    assert.deepEqual([a.asked, b.asked], [[REMOTE], [REMOTE]]);
    assert.match(err.message, /it was deleted, and the next attempt clones afresh/);
  });

  it("a clone still held elsewhere: retried all the same, saying it could not be deleted yet", async () => {
    const err = await afterDamagedGitClone(damaged(), REMOTE, [builder(async () => []).client], log);
    assert.ok(err instanceof GitCloneDamagedError);
    assert.deepEqual(err.deleted, []);
    assert.match(err.message, /another build still held it/);
  });

  it("a builder that cannot be asked: the failure goes on as it is, with a warning", async () => {
    const cause = damaged();
    lines.length = 0;
    assert.equal(await afterDamagedGitClone(cause, REMOTE, [builder(async () => Promise.reject(new Error("gone"))).client], log), cause);
    assert.deepEqual(lines, ["warn could not delete a builder's damaged clone of the repository"]);
  });

  it("no git context or no builder: nothing to forget", async () => {
    const cause = damaged();
    assert.equal(await afterDamagedGitClone(cause, undefined, [builder(async () => ["x"]).client], log), cause);
    assert.equal(await afterDamagedGitClone(cause, REMOTE, [], log), cause);
  });
});
