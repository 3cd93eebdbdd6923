import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * What a process loads stays resident for its life. These tests pin two memory savings that one stray static import
 * would undo without failing anything else: a worker does not load the web pages' libraries (some 11 MB), and a config
 * check thread loads neither Ajv's schema compiler (it uses the precompiled validator) nor the GitHub code.
 */

const run = promisify(execFile);

/** Every module URL a fresh process resolves while importing `module` (a path under the repository). */
async function modulesLoadedBy(module: string): Promise<string[]> {
  const probe = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
    await import(${JSON.stringify(new URL(`../../${module}`, import.meta.url).href)});
    process.stdout.write(JSON.stringify(seen));
  `;
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    maxBuffer: 64 * 1024 * 1024,
  });
  const urls = JSON.parse(stdout) as string[];
  assert.ok(urls.length > 10, `the probe saw only ${urls.length} modules`);
  return urls;
}

test("the app's parts load the web pages only when a role asks for its routes", async () => {
  const urls = await modulesLoadedBy("src/app/production-parts.ts");
  assert.ok(urls.some((u) => u.includes("/src/worker/")), "the probe sees the build worker's modules");
  assert.deepEqual(urls.filter((u) => u.includes("/src/web/") || u.includes("/node_modules/@bull-board/")), []);
});

test("a config check thread's code loads neither Ajv's compiler nor the GitHub code", async () => {
  const urls = await modulesLoadedBy("src/planner/config-task.ts");
  assert.ok(urls.some((u) => u.includes("/node_modules/yaml/")), "the probe sees the YAML parser");
  assert.deepEqual(urls.filter((u) => u.includes("/src/github/") || /\/node_modules\/ajv\/(?!dist\/runtime\/)/.test(u)), []);
});
