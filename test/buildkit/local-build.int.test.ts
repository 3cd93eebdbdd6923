import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BuildKitClient } from "../../src/buildkit/client.js";
import { testDaemons } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { writeTree } from "../support/write-tree.js";

const stack = testStack();
const run = promisify(execFile);


async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(path);
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
  }
  return out.sort();
}

for (const daemon of testDaemons()) describe(`local contexts and client-side exports on ${daemon.name}`, { skip: daemon.skip }, () => {
  let client: BuildKitClient;
  let work: string;

  before(async () => {
    client = await BuildKitClient.connect(daemon.address);
    work = await mkdtemp(join(tmpdir(), "bkb-local-build-"));
  });
  after(async () => {
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("a rebuild of the same directory sends what changed: edited, deleted and added files are never stale", { timeout: 120_000 }, async () => {
    const context = join(work, "rebuild-ctx");
    await writeTree(context, { Dockerfile: "FROM scratch\nCOPY . /\n", "same-size.txt": "version-1", "gone.txt": "old", "kept.txt": "kept" });
    const first = join(work, "rebuild-out-1");
    await client.solve({ context: { type: "local", dir: context }, output: { type: "local", dest: first } });
    assert.equal(await readFile(join(first, "same-size.txt"), "utf8"), "version-1");

    // Same size, new content: only the mtime tells the daemon's transfer cache that it changed.
    await writeFile(join(context, "same-size.txt"), "version-2");
    await rm(join(context, "gone.txt"));
    await writeFile(join(context, "new.txt"), "new");
    const second = join(work, "rebuild-out-2");
    await client.solve({ context: { type: "local", dir: context }, output: { type: "local", dest: second } });
    assert.equal(await readFile(join(second, "same-size.txt"), "utf8"), "version-2");
    assert.equal(await readFile(join(second, "new.txt"), "utf8"), "new");
    assert.equal(await readFile(join(second, "kept.txt"), "utf8"), "kept");
    assert.deepEqual((await listFiles(second)).filter((f) => f.endsWith(".txt")), ["kept.txt", "new.txt", "same-size.txt"]);
  });

  test(".dockerignore'd files never reach the build; a type=local export brings the rest back", { timeout: 120_000 }, async () => {
    const context = join(work, "ignore-ctx");
    await writeTree(context, {
      Dockerfile: "FROM scratch\nCOPY . /\n",
      ".dockerignore": "secret.env\n**/*.log\n!keep.log\nbuild\n",
      "secret.env": "TOKEN=do-not-send",
      "app/main.sh": "#!/bin/sh\necho hi\n",
      "app/debug.log": "noise",
      "keep.log": "kept",
      "build/out.bin": "artifact",
    });
    await chmod(join(context, "app/main.sh"), 0o755);
    await symlink("app/main.sh", join(context, "run"));
    const dest = join(work, "ignore-out");

    const result = await client.solve({ context: { type: "local", dir: context }, output: { type: "local", dest } });
    assert.ok(result.steps.total > 0);

    assert.deepEqual(await listFiles(dest), [".dockerignore", "Dockerfile", "app", "app/main.sh", "keep.log", "run"]);
    assert.equal(await readFile(join(dest, "app/main.sh"), "utf8"), "#!/bin/sh\necho hi\n");
    assert.equal((await stat(join(dest, "app/main.sh"))).mode & 0o777, 0o755);
    assert.equal(await readlink(join(dest, "run")), "app/main.sh");
    assert.ok((await lstat(join(dest, "run"))).isSymbolicLink());
  });

  test("a Dockerfile outside the context is read from its own directory", { timeout: 120_000 }, async () => {
    const context = join(work, "split-ctx");
    const dockerfiles = join(work, "split-dockerfiles");
    await writeTree(context, { "data.txt": "data" });
    await writeTree(dockerfiles, { "release.Dockerfile": "FROM scratch\nCOPY data.txt /copied.txt\n", "unrelated.txt": "x" });
    const dest = join(work, "split-out");
    await client.solve({
      context: { type: "local", dir: context, dockerfileDir: dockerfiles },
      dockerfile: "release.Dockerfile",
      output: { type: "local", dest },
    });
    assert.deepEqual(await listFiles(dest), ["copied.txt"]);
  });

  test("a type=tar export writes the image filesystem as a tar file", { timeout: 120_000 }, async () => {
    const context = join(work, "tar-ctx");
    await writeTree(context, { Dockerfile: "FROM scratch\nCOPY files /\n", "files/a.txt": "a", "files/dir/b.txt": "bb" });
    const dest = join(work, "image.tar");
    await client.solve({ context: { type: "local", dir: context }, output: { type: "tar", dest } });
    const { stdout } = await run("tar", ["-tf", dest]);
    assert.deepEqual(stdout.split("\n").filter(Boolean).sort(), ["a.txt", "dir/", "dir/b.txt"]);
    const { stdout: content } = await run("tar", ["-xOf", dest, "dir/b.txt"]);
    assert.equal(content, "bb");
    assert.deepEqual((await readdir(work)).filter((name) => name.includes("partial")), []);
  });

  test("a multi-platform type=local export gets one folder per platform", { timeout: 120_000 }, async () => {
    const context = join(work, "multi-ctx");
    await writeTree(context, { Dockerfile: "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "hello" });
    const dest = join(work, "multi-out");
    await client.solve({ context: { type: "local", dir: context }, platforms: ["linux/amd64", "linux/arm64"], output: { type: "local", dest } });
    assert.deepEqual(await listFiles(dest), ["linux_amd64", "linux_amd64/hello.txt", "linux_arm64", "linux_arm64/hello.txt"]);
  });

  test("a 10,000-file context is transferred, built on and exported back", { timeout: 300_000 }, async () => {
    const context = join(work, "big-ctx");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), `FROM ${stack.baseImage}\nCOPY files /files\nRUN find /files -type f | wc -l > /count && cat /files/d7/f123.txt >> /count\n`);
    for (let d = 0; d < 20; d++) {
      await mkdir(join(context, "files", `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 500 }, (_, i) => writeFile(join(context, "files", `d${d}`, `f${i}.txt`), `${d}/${i}\n`)));
    }
    const dest = join(work, "big-out");
    await client.solve({ context: { type: "local", dir: context }, output: { type: "local", dest } });
    const count = await readFile(join(dest, "count"), "utf8");
    assert.deepEqual(count.split("\n").map((l) => l.trim()).filter(Boolean), ["10000", "7/123"]);
    assert.equal((await readdir(join(dest, "files", "d19"))).length, 500);
  });
});
