import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as oauth from "oauth4webapi";
import { parseWwwAuthenticate } from "../../../src/buildkit/registry/www-authenticate.js";
import type { AuthChallenge } from "../../../src/buildkit/registry/www-authenticate.js";

/**
 * Our `WWW-Authenticate` parser against oauth4webapi's (an RFC 9110 challenge parser in a maintained OAuth client
 * with no dependencies). It does not export the parser itself: it runs when a protected-resource response is a 401
 * with challenges, and hands them over on a WWWAuthenticateChallengeError. Its fetch is replaced, so nothing leaves
 * the process.
 */
async function theirs(header: string): Promise<AuthChallenge[] | undefined> {
  const response = new Response(null, { status: 401, headers: { "www-authenticate": header } });
  try {
    await oauth.protectedResourceRequest("token", "GET", new URL("https://registry.invalid/v2/"), undefined, undefined, {
      [oauth.customFetch]: async () => response,
    });
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      return err.cause.map((c) => ({ scheme: c.scheme, params: { ...c.parameters } as Record<string, string> }));
    }
    throw err;
  }
  return undefined;
}

/** Headers as registries send them (Distribution, Docker Hub, GHCR, GitLab, ECR, Artifact Registry, ACR, Quay). */
const REGISTRY_HEADERS = [
  'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
  'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:owner/app:pull,push"',
  'Bearer realm="https://gitlab.example/jwt/auth",service="container_registry",scope="repository:group/app:push,pull",error="insufficient_scope"',
  'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
  'Bearer realm="https://europe-docker.pkg.dev/v2/token",service="europe-docker.pkg.dev",scope="repository:p/r/img:pull"',
  'Bearer realm="https://example.azurecr.io/oauth2/token",service="example.azurecr.io",scope="repository:img:metadata_read,pull"',
  'Bearer realm="https://quay.example/v2/auth",service="quay.example",scope="repository:org/img:pull repository:org/base:pull"',
  'Basic realm="Registry Realm"',
  'Bearer realm="http://127.0.0.1:5001/token", service="local", error="invalid_token", error_description="token \\"expired\\", try again"',
  'Basic realm="basic", Bearer realm="https://auth.example/token",service="reg"',
];

test("registry headers: the same challenges as oauth4webapi", async () => {
  for (const header of REGISTRY_HEADERS) {
    const mine = parseWwwAuthenticate(header);
    assert.ok(mine.length > 0);
    assert.deepEqual(mine, await theirs(header), header);
  }
});

const TOKEN_CHARS = [..."abcXYZ019!#$%&'*+-.^_`|~"];
const token = fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: 8 }).map((c) => c.join(""));
/** Quoted-string content: commas, equals signs, spaces, quotes and backslashes included, escaped as needed. */
const quoted = fc
  .array(fc.tuple(fc.constantFrom(...'ab ,=;:/"\\xyz'), fc.boolean()), { maxLength: 12 })
  .map((chars) => ({
    value: chars.map(([c]) => c).join(""),
    text: `"${chars.map(([c, escapeAnyway]) => (c === '"' || c === "\\" || escapeAnyway ? `\\${c}` : c)).join("")}"`,
  }));
const param = fc.record({
  key: fc.oneof(fc.constantFrom("realm", "service", "scope", "error", "error_description", "Realm", "SCOPE"), token),
  value: fc.oneof(quoted, token.map((t) => ({ value: t, text: t }))),
  equals: fc.constantFrom("=", "=", " = ", "= "),
});
// Schemes of letters, digits and `-`, as every registered one is: oauth4webapi finds where the next challenge starts
// with token68's characters, so a scheme starting with another token character (`|a`) after parameters is rejected
// there (pinned below).
const scheme = fc.array(fc.constantFrom(..."abcXYZ019-"), { minLength: 1, maxLength: 8 }).map((c) => c.join(""));
const challenge = fc.record({
  scheme: fc.oneof(fc.constantFrom("Bearer", "Basic", "bearer", "Digest", "Negotiate"), scheme),
  params: fc.array(param, { maxLength: 4 }),
  separator: fc.constantFrom(",", ", ", " , ", ",  "),
});

test("generated headers: quoted strings with escapes, commas inside quotes, several challenges", async (t) => {
  let params = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(challenge, { minLength: 1, maxLength: 3 }), fc.constantFrom(", ", ",", ",  "), async (challenges, between) => {
      const header = challenges
        .map((c) => (c.params.length ? `${c.scheme} ${c.params.map((p) => `${p.key}${p.equals}${p.value.text}`).join(c.separator)}` : c.scheme))
        .join(between);
      const mine = parseWwwAuthenticate(header);
      assert.deepEqual(mine, await theirs(header), header);
      // And the values are what was meant, not merely what both parsers agree on.
      for (const [i, c] of challenges.entries()) {
        const expected = Object.fromEntries(c.params.map((p) => [p.key.toLowerCase(), p.value.value]));
        assert.deepEqual(mine[i], { scheme: c.scheme.toLowerCase(), params: expected }, header);
      }
      params += challenges.reduce((n, c) => n + c.params.length, 0);
    }),
    { numRuns: 1_000 },
  );
  t.diagnostic(`${params} parameters compared`);
});

test("difference: a scheme with other token characters after a parameter list is read by ours, refused by oauth4webapi", async () => {
  const header = "Basic realm=a, |x";
  assert.deepEqual(parseWwwAuthenticate(header), [
    { scheme: "basic", params: { realm: "a" } },
    { scheme: "|x", params: {} },
  ]);
  assert.equal(await theirs(header), undefined);
});

test("difference: white space before the comma after a challenge without parameters (RFC 9110 allows it)", async () => {
  const header = "Negotiate , Bearer realm=a";
  assert.deepEqual(parseWwwAuthenticate(header), [
    { scheme: "negotiate", params: {} },
    { scheme: "bearer", params: { realm: "a" } },
  ]);
  assert.equal(await theirs(header), undefined);
});

test("difference: malformed or token68 challenges, which registries do not send, are read leniently by ours", async () => {
  // An unterminated quoted string keeps what it holds; oauth4webapi refuses the whole header.
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.example/token'), [{ scheme: "bearer", params: { realm: "https://auth.example/token" } }]);
  assert.equal(await theirs('Bearer realm="https://auth.example/token'), undefined);
  // A token68 (`Negotiate abc==`) is not a parameter list; ours has no token68 and reads a parameter "abc".
  assert.deepEqual(await theirs("Negotiate abc=="), [{ scheme: "negotiate", params: {} }]);
  assert.deepEqual(parseWwwAuthenticate("Negotiate abc=="), [{ scheme: "negotiate", params: { abc: "=" } }]);
});
