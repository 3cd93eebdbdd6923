import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { resolveTls } from "../../../src/buildkit/transport/tls-credentials.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-tlsopt-"));
  await writeFile(join(dir, "ca.pem"), "CA-FROM-DIR");
  await writeFile(join(dir, "cert.pem"), "CERT-FROM-DIR");
  await writeFile(join(dir, "key.pem"), "KEY-FROM-DIR");
  await writeFile(join(dir, "other-ca.pem"), "CA-FROM-FILE");
});
after(() => rm(dir, { recursive: true, force: true }));

test("no options and no environment means plain text", () => {
  assert.equal(resolveTls(undefined, {}), undefined);
});

test("PEM content in options wins over files and environment", () => {
  const tls = resolveTls({ ca: "CA-INLINE", caFile: join(dir, "other-ca.pem") }, { BUILDKIT_TLS_CA_CERT: join(dir, "other-ca.pem") });
  assert.equal(tls?.ca?.toString(), "CA-INLINE");
});

test("file options, then BUILDKIT_TLS_* files, then BUILDKIT_TLS_DIR", () => {
  const env = { BUILDKIT_TLS_DIR: dir, BUILDKIT_TLS_CA_CERT: join(dir, "other-ca.pem"), BUILDKIT_TLS_SERVER_NAME: "bk.local" };
  const tls = resolveTls(undefined, env);
  assert.equal(tls?.ca?.toString(), "CA-FROM-FILE");
  assert.equal(tls?.cert?.toString(), "CERT-FROM-DIR");
  assert.equal(tls?.key?.toString(), "KEY-FROM-DIR");
  assert.equal(tls?.serverName, "bk.local");
});

test("a certificate without its key is refused", () => {
  assert.throws(() => resolveTls({ cert: "C" }, {}), InvalidRequestError);
});

test("an unreadable file names the file", () => {
  assert.throws(() => resolveTls({ caFile: join(dir, "missing.pem") }, {}), /missing\.pem/);
});
