import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodePathComponent,
  ImagePathTooLongError,
  isPathComponent,
  ownerNamespace,
  ownerScopedRepository,
  pathComponent,
  PathComponentError,
  REPOSITORY_NAME_MAX_LENGTH,
} from "../../src/tenancy/index.js";

/** The OCI distribution grammar for a repository name after the host (moby's `reference` package). */
const OCI_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const PREFIX = "registry.example.com";

function pathAfterHost(repository: string): string {
  return repository.slice(repository.indexOf("/") + 1);
}

test("GitHub names that are not valid path components are escaped, the others kept", () => {
  const cases: Array<[string, string]> = [
    ["shop", "shop"],
    ["Shop", "shop"],
    ["shop-api", "shop-api"],
    ["my.app_v2", "my.app_v2"],
    ["a---b", "a---b"],
    [".github", "github__d-e"],
    ["a..b", "a-b__e-dd-e"],
    ["_x", "x__u-e"],
    ["x-", "x__e-h"],
    ["x.", "x__e-d"],
    ["-x-", "x__h-h"],
    ["a__b", "a-b__e-uu-e"],
    ["a_-b", "a-b__e-uh-e"],
    ["github__d-e", "github-d-e__e-uu-h-e"],
    ["--", "x__hh"],
    ["x", "x"],
  ];
  for (const [name, component] of cases) {
    assert.equal(pathComponent(name), component, name);
    assert.ok(isPathComponent(component), component);
    assert.equal(decodePathComponent(component), name.toLowerCase(), component);
  }
  assert.throws(() => pathComponent("a/b"), PathComponentError);
  assert.throws(() => pathComponent(""), PathComponentError);
  assert.throws(() => pathComponent("ü"), PathComponentError);
});

test("collision table: distinct (owner, repo, image) never share a path", () => {
  // Each row would have met another under `<prefix>/<repo>` with a `-` join or a lossy sanitiser.
  const names: Array<{ owner: string; repo: string; image?: string }> = [
    { owner: "acme", repo: "app" },
    { owner: "other", repo: "app" },
    { owner: "acme", repo: "shop", image: "api" },
    { owner: "acme", repo: "shop-api" },
    { owner: "acme", repo: "shop-api", image: "web" },
    { owner: "acme", repo: "shop", image: "api-web" },
    { owner: "acme", repo: ".github" },
    { owner: "acme", repo: "github" },
    { owner: "acme", repo: "github__d-e" },
    { owner: "acme", repo: "a..b" },
    { owner: "acme", repo: "a.b" },
    { owner: "acme", repo: "a-b" },
    { owner: "acme", repo: "a_b" },
    { owner: "acme", repo: "a__b" },
    { owner: "acme", repo: "_a" },
    { owner: "acme", repo: "a" },
    { owner: "acme", repo: "a-" },
    { owner: "acme", repo: "a.", image: "x" },
    { owner: "acme", repo: "a", image: "x" },
    { owner: "acme-shop", repo: "api" },
    { owner: "acme", repo: "shop", image: "shop" },
  ];
  const seen = new Map<string, string>();
  for (const n of names) {
    const path = ownerScopedRepository(PREFIX, n);
    assert.match(pathAfterHost(path), OCI_PATH, path);
    const other = seen.get(path);
    assert.equal(other, undefined, `${JSON.stringify(n)} and ${other} both map to ${path}`);
    seen.set(path, JSON.stringify(n));
  }
  assert.equal(ownerScopedRepository(PREFIX, { owner: "Acme", repo: "Shop", image: "api" }), `${PREFIX}/acme/shop/api`);
  assert.equal(ownerScopedRepository(`${PREFIX}/`, { owner: "acme", repo: "shop-api" }), `${PREFIX}/acme/shop-api`);
  assert.equal(ownerNamespace(`${PREFIX}/builds/`, "Acme"), `${PREFIX}/builds/acme/`);
});

const NAME_CHARS = fc.constantFrom(..."aAbz09._-".split(""));
// A small alphabet and short names, so a batch holds many names that differ only in their separators or case.
const nearName = fc.string({ unit: fc.constantFrom(..."aAb._-".split("")), minLength: 1, maxLength: 5 });
const triple = fc.record({ owner: nearName, repo: nearName, image: fc.option(nearName, { nil: undefined }) });

test("property: distinct triples (up to GitHub's case-insensitivity) never map to the same path, and every path is valid", () => {
  const key = (t: { owner: string; repo: string; image: string | undefined }): string =>
    JSON.stringify([t.owner.toLowerCase(), t.repo.toLowerCase(), t.image?.toLowerCase() ?? null]);
  const path = (t: { owner: string; repo: string; image: string | undefined }): string =>
    ownerScopedRepository(PREFIX, { owner: t.owner, repo: t.repo, ...(t.image !== undefined ? { image: t.image } : {}) });
  fc.assert(
    fc.property(fc.array(triple, { minLength: 2, maxLength: 40 }), (batch) => {
      const byPath = new Map<string, string>();
      for (const t of batch) {
        const p = path(t);
        assert.match(pathAfterHost(p), OCI_PATH);
        assert.ok(p.length <= REPOSITORY_NAME_MAX_LENGTH);
        const earlier = byPath.get(p);
        if (earlier !== undefined) assert.equal(earlier, key(t), `${earlier} and ${key(t)} both map to ${p}`);
        byPath.set(p, key(t));
      }
    }),
    { numRuns: 3_000 },
  );
});

test("property: the escape is undone by decodePathComponent (so it is injective on lowercase names)", () => {
  fc.assert(
    fc.property(fc.string({ unit: NAME_CHARS, minLength: 1, maxLength: 40 }), (name) => {
      const component = pathComponent(name);
      assert.ok(isPathComponent(component), component);
      assert.equal(decodePathComponent(component), name.toLowerCase());
    }),
    { numRuns: 20_000 },
  );
});

test("a path over the registry's limit is a clear error naming the path, its length and the fix", () => {
  const names = { owner: "o".repeat(39), repo: `-${"r-".repeat(49)}`, image: "i".repeat(64) };
  assert.throws(
    () => ownerScopedRepository(`${PREFIX}/tenants`, names),
    (err: unknown) =>
      err instanceof ImagePathTooLongError &&
      err.path.length > REPOSITORY_NAME_MAX_LENGTH &&
      err.message.includes(`is ${err.path.length} characters, over the registry's limit of 255`) &&
      err.message.includes("set a shorter `repository:`"),
  );
  // The longest plain names GitHub allows fit under a short prefix.
  const longest = ownerScopedRepository(PREFIX, { owner: "o".repeat(39), repo: "r".repeat(100), image: "i".repeat(64) });
  assert.ok(longest.length <= REPOSITORY_NAME_MAX_LENGTH);
});
