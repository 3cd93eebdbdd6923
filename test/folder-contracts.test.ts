import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ESLint } from "eslint";

const root = join(import.meta.dirname, "..");
const eslint = new ESLint({ cwd: root });

/** The messages the project's lint config gives `code` as if it stood at `filePath`. */
async function lintAt(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).map((m) => `${m.line}: ${m.ruleId ?? "?"}`);
}

test("every folder under src/ has an index.ts that opens with what the folder is for", () => {
  const folders = readdirSync(join(root, "src")).filter((name) => statSync(join(root, "src", name)).isDirectory());
  assert.ok(folders.length >= 10);
  for (const folder of folders) {
    const index = readFileSync(join(root, "src", folder, "index.ts"), "utf8");
    assert.match(index, /^(\/\/|\/\*\*)/, `src/${folder}/index.ts starts with its comment`);
  }
});

test("a file in src/ imports another folder only through its index.ts, statically or lazily", async () => {
  const code = [
    'import type { EventJob } from "../queue/job-types.js";',
    'import type { BuildJob } from "../queue/index.js";',
    'export const lazy = () => import("../github/repo-reader.js");',
    'export const lazyIndex = () => import("../github/index.js");',
    "export type Jobs = [EventJob, BuildJob];",
  ].join("\n");
  assert.deepEqual(await lintAt("src/worker/contract-probe.ts", code), ["1: no-restricted-imports", "3: no-restricted-syntax"]);
});

test("a file does not import its own folder's index.ts (that would close a cycle)", async () => {
  const code = 'import { BuildQueue } from "./index.js";\nimport { EventQueue } from "./event-queue.js";\nexport { BuildQueue, EventQueue };\n';
  assert.deepEqual(await lintAt("src/queue/contract-probe.ts", code), ["1: no-restricted-imports"]);
});

test("the BuildKit library imports nothing outside src/buildkit, nor the app's dependencies", async () => {
  const code = [
    'import { BuildJob } from "../../queue/index.js";',
    'import { Redis } from "ioredis";',
    'import { StepFailedError } from "../errors.js";',
    'export const lazy = () => import("../../app/index.js");',
    "export { BuildJob, Redis, StepFailedError };",
  ].join("\n");
  assert.deepEqual(await lintAt("src/buildkit/solve/contract-probe.ts", code), [
    "1: no-restricted-imports",
    "2: no-restricted-imports",
    "4: no-restricted-syntax",
  ]);
});

test("tests may import a folder's internals", async () => {
  const code = 'import type { EventJob } from "../../src/queue/job-types.js";\nexport type Job = EventJob;\n';
  assert.deepEqual(await lintAt("test/queue/contract-probe.test.ts", code), []);
});
