import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildCommand } from "../../src/cli/cli-command.js";
import { parseCommandLine } from "../../src/cli/parse-command.js";
import type { ParseEnvironment } from "../../src/cli/parse-command.js";
import { UsageError } from "../../src/cli/usage-error.js";

async function workspace(t: { after(fn: () => Promise<void>): void }): Promise<{ root: string; environment: ParseEnvironment }> {
  const root = await mkdtemp(join(tmpdir(), "bkb-cli-local-cache-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "app"));
  await writeFile(join(root, "app", "Dockerfile"), "FROM scratch\n");
  await mkdir(join(root, "dockercfg"));
  return { root, environment: { cwd: root, homedir: join(root, "home"), env: { DOCKER_CONFIG: join(root, "dockercfg") }, readStdin: async () => "" } };
}

test("--cache-to type=local,dest=DIR,mode=max and --cache-from type=local,src=DIR resolve DIR against the working directory", async (t) => {
  const { root, environment } = await workspace(t);
  const command = (await parseCommandLine(
    ["build", "local", "app", "--cache-from", "type=local,src=.cache/app", "--cache-from", "type=local,src=/var/cache/shared", "--cache-to", "type=local,dest=.cache/app,mode=max"],
    environment,
  )) as BuildCommand;
  assert.equal(command.kind, "build");
  assert.deepEqual(command.request.cacheImports, [
    { type: "local", attrs: { src: join(root, ".cache/app") } },
    { type: "local", attrs: { src: "/var/cache/shared" } },
  ]);
  assert.deepEqual(command.request.cacheExports, [{ type: "local", attrs: { dest: join(root, ".cache/app"), mode: "max" } }]);
});

test("a local cache spec with a missing or wrong directory field is a usage error naming the flag", async (t) => {
  const { environment } = await workspace(t);
  const cases: Array<[string, string, RegExp]> = [
    ["--cache-to", "type=local", /type=local needs dest=DIR/],
    ["--cache-to", "type=local,src=x", /exports take dest= and mode= only, not src=/],
    ["--cache-from", "type=local,dest=x", /imports take src= only, not dest=/],
    ["--cache-from", "type=local,src=x,mode=max", /imports take src= only, not mode=/],
  ];
  for (const [flag, value, message] of cases) {
    await assert.rejects(parseCommandLine(["build", "local", "app", flag, value], environment), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.flag, flag);
      assert.match(error.message, message);
      return true;
    });
  }
});
