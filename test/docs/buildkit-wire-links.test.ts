import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOC = "docs/buildkit-wire.md";
const SOURCE_DIRS = ["src", "test", "bench", "scripts", "proto"];
const SKIP = new Set(["node_modules", "generated"]);

async function sourceFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(path)));
    else if (/\.(ts|mts|js|mjs|sh|proto)$/.test(entry.name)) found.push(path);
  }
  return found;
}

const THIS_FILE = fileURLToPath(import.meta.url);
/** A citation: the file's name and one or more anchors, `, #next` possibly on the next comment line. */
const CITATION = /docs\/buildkit-wire\.md(#[a-z0-9-]+(?:,\s*(?:\*|\/\/)?\s*#[a-z0-9-]+)*)/g;

/** Every anchor cited in the sources, with where it stands. */
async function citations(): Promise<{ where: string; anchor: string }[]> {
  const cited: { where: string; anchor: string }[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of await sourceFiles(join(ROOT, dir))) {
      if (file === THIS_FILE) continue;
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(CITATION)) {
        const line = text.slice(0, match.index).split("\n").length;
        for (const anchor of match[1]?.match(/#[a-z0-9-]+/g) ?? []) cited.push({ where: `${relative(ROOT, file)}:${line}`, anchor: anchor.slice(1) });
      }
    }
  }
  return cited;
}

test(`every ${DOC}#anchor cited in the code names a section of that file`, async () => {
  const doc = await readFile(join(ROOT, DOC), "utf8");
  const anchors = new Set([...doc.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]));
  const cited = await citations();
  assert.ok(cited.length >= 40, `expected the code to cite the notes, found ${cited.length} citations`);
  const missing = cited.filter((c) => !anchors.has(c.anchor)).map((c) => `${c.where} #${c.anchor}`);
  assert.deepEqual(missing, []);
});

test("no source file cites a wire document outside the repository", async () => {
  const outside: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of await sourceFiles(join(ROOT, dir))) {
      if (file === THIS_FILE) continue;
      const text = await readFile(file, "utf8");
      text.split("\n").forEach((line, i) => {
        if (/WIRE\.md|\.\.\/shared\/buildkit\/[A-Za-z]+\.md/.test(line)) outside.push(`${relative(ROOT, file)}:${i + 1}`);
      });
    }
  }
  assert.deepEqual(outside, []);
});
