import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import * as byName from "@buildkit-bot/buildkit";
import * as bySource from "../../src/buildkit/index.js";

/** Issue 16: the app, the CLI and the benchmarks use the library only by its package name. */

const root = fileURLToPath(new URL("../../", import.meta.url));
const eslint = new ESLint({ cwd: root });

async function lintAt(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).map((m) => `${m.line}: ${m.ruleId ?? "?"}`);
}

test("in development the package name is the library's TypeScript source (tsconfig paths), no build needed", () => {
  assert.equal(import.meta.resolve("@buildkit-bot/buildkit"), new URL("src/buildkit/index.ts", `file://${root}`).href);
  assert.equal(byName.BuildKitClient, bySource.BuildKitClient, "one module instance, not a second copy from a build");
});

test("src/ outside the library imports it by name only, statically or lazily", async () => {
  const code = [
    'import { BuildKitClient } from "@buildkit-bot/buildkit";',
    'import type { BuildRequest } from "../buildkit/index.js";',
    'import { StepFailedError } from "../buildkit/errors.js";',
    'export const lazy = () => import("../buildkit/index.js");',
    'export const lazyByName = () => import("@buildkit-bot/buildkit");',
    "export const used = [BuildKitClient, StepFailedError];",
    "export type Request = BuildRequest;",
  ].join("\n");
  const messages = await lintAt("src/worker/package-probe.ts", code);
  assert.deepEqual([...new Set(messages)], ["2: no-restricted-imports", "3: no-restricted-imports", "4: no-restricted-syntax"]);
});

test("benchmarks import it by name only; tests may still reach its internals", async () => {
  const bench = 'import { BuildKitClient } from "../src/buildkit/client.js";\nimport { BuildConfig } from "@buildkit-bot/buildkit";\nexport { BuildKitClient, BuildConfig };\n';
  assert.deepEqual(await lintAt("bench/package-probe.ts", bench), ["1: no-restricted-imports"]);
  const testCode = 'import { protos } from "../../src/buildkit/proto.js";\nexport { protos };\n';
  assert.deepEqual(await lintAt("test/buildkit/package-probe.test.ts", testCode), []);
});
