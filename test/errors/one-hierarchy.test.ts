import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

const SRC = join(import.meta.dirname, "../../src");
/** The BuildKit client has its own hierarchy (BuildKitError), and the CLI is its front end: neither depends on the app. */
const OUTSIDE_THE_APP = ["buildkit", "cli"];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "generated" ? [] : sources(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

test("every error class of the app extends AppError, directly or through another of ours", () => {
  const plain: string[] = [];
  let classes = 0;
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    if (OUTSIDE_THE_APP.some((dir) => rel.startsWith(`${dir}/`))) continue;
    for (const m of readFileSync(file, "utf8").matchAll(/class (\w+)(?:<[^>]*>)? extends (\w+)/g)) {
      if (!/Error$/.test(m[1] ?? "") || m[1] === "AppError") continue;
      classes++;
      if (/^(Error|TypeError|RangeError|AggregateError)$/.test(m[2] ?? "")) plain.push(`${rel}: ${m[1]} extends ${m[2]}`);
    }
  }
  assert.ok(classes >= 20, `found the app's error classes (${classes})`);
  assert.deepEqual(plain, [], "error classes outside the hierarchy");
});
