import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readPrivateKey } from "../../src/app/private-key.js";
import { AppConfigError } from "../../src/app/app-config.js";
import { generateAppPrivateKey } from "../support/webhooks.js";

describe("readPrivateKey", () => {
  let dir: string;
  const pem = generateAppPrivateKey();
  const secretLine = pem.split("\n")[1]!;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-key-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const refused = (env: NodeJS.ProcessEnv, variable: string, message: RegExp): void => {
    assert.throws(
      () => readPrivateKey(env),
      (err: unknown) => err instanceof AppConfigError && err.variable === variable && message.test(err.message) && !err.message.includes(secretLine),
    );
  };

  it("reads PRIVATE_KEY_PATH, a read-only file like the compose secret", async () => {
    const file = join(dir, "github-app-private-key");
    await writeFile(file, pem);
    await chmod(file, 0o400);
    assert.equal(readPrivateKey({ PRIVATE_KEY_PATH: file }), pem);
    assert.equal(readPrivateKey({ PRIVATE_KEY: "", PRIVATE_KEY_PATH: ` ${file} ` }), pem, "an empty PRIVATE_KEY does not hide the file");
  });

  it("takes PRIVATE_KEY as PEM, with \\n escapes, or as base64", () => {
    assert.equal(readPrivateKey({ PRIVATE_KEY: pem.replace(/\n/g, "\\n") }), pem);
    assert.equal(readPrivateKey({ PRIVATE_KEY: Buffer.from(pem).toString("base64") }), pem);
    assert.equal(readPrivateKey({}), undefined);
  });

  it("names the variable and the path when the file is missing or not a key, and never shows the key", async () => {
    const missing = join(dir, "nope.pem");
    refused({ PRIVATE_KEY_PATH: missing }, "PRIVATE_KEY_PATH", new RegExp(`^PRIVATE_KEY_PATH: cannot read ${missing}: ENOENT`));
    const notKey = join(dir, "not-a-key.pem");
    await writeFile(notKey, "hello\n");
    refused({ PRIVATE_KEY_PATH: notKey }, "PRIVATE_KEY_PATH", /is not a PEM private key/);
    refused({ PRIVATE_KEY: "not a key" }, "PRIVATE_KEY", /neither a PEM key nor base64/);
  });
});
