import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, lstat, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { walkContext } from "../../../src/buildkit/filesync/context-walker.js";
import type { WalkOptions } from "../../../src/buildkit/filesync/context-walker.js";
import { GoFileMode, goFileMode, kindOfGoMode, posixPermissions } from "../../../src/buildkit/filesync/file-mode.js";

async function tree(files: Record<string, string | { link: string } | { dir: true }>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "bkb-walk-"));
  for (const [path, content] of Object.entries(files)) {
    const abs = join(root, path);
    await mkdir(dirname(abs), { recursive: true });
    if (typeof content === "string") await writeFile(abs, content);
    else if ("link" in content) await symlink(content.link, abs);
    else await mkdir(abs, { recursive: true });
  }
  return root;
}

async function paths(root: string, options?: WalkOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of walkContext(root, options)) out.push(entry.path);
  return out;
}

test("walk order: depth-first, siblings sorted byte-wise, a dir right before its contents", async (t) => {
  const root = await tree({
    "a.txt": "hello",
    "a/b": "b",
    "a/c/d": "d",
    A: "upper",
    _: "underscore",
    "b-": "dash",
    "é.txt": "e acute",
    "z.txt": "z",
    link: { link: "a.txt" },
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  assert.deepEqual(await paths(root), ["A", "_", "a", "a/b", "a/c", "a/c/d", "a.txt", "b-", "link", "z.txt", "é.txt"]);
});

test("stats carry Go file modes, nanosecond mtimes, sizes and link targets", async (t) => {
  const root = await tree({ "a.txt": "hello", "run.sh": "#!/bin/sh\n", su: "x", "d/f": "", link: { link: "a.txt" } });
  t.after(() => rm(root, { recursive: true, force: true }));
  await chmod(join(root, "run.sh"), 0o755);
  await chmod(join(root, "su"), 0o4755);
  await chmod(join(root, "d"), 0o1755);
  await chmod(join(root, "a.txt"), 0o644);
  await utimes(join(root, "a.txt"), 1700000000.5, 1700000000.5);

  const stats = new Map<string, Awaited<ReturnType<typeof collect>>[number]>();
  async function collect() {
    const out = [];
    for await (const entry of walkContext(root)) out.push(entry);
    return out;
  }
  for (const entry of await collect()) stats.set(entry.path, entry);

  const file = stats.get("a.txt");
  assert.equal(file?.kind, "file");
  assert.equal(file?.stat.mode, 0o644);
  assert.equal(file?.stat.size, "5");
  assert.equal(file?.stat.modTime, "1700000000500000000");
  assert.equal(file?.stat.uid, 0);
  assert.equal(file?.stat.gid, 0);
  assert.equal(file?.stat.linkname, undefined);

  assert.equal(stats.get("run.sh")?.stat.mode, 0o755);
  assert.equal(stats.get("su")?.stat.mode, (GoFileMode.Setuid | 0o755) >>> 0);

  const dir = stats.get("d");
  assert.equal(dir?.kind, "dir");
  assert.equal(dir?.stat.mode, (GoFileMode.Dir | GoFileMode.Sticky | 0o755) >>> 0);
  assert.equal(dir?.stat.size, undefined);
  const dirLstat = await lstat(join(root, "d"), { bigint: true });
  assert.equal(dir?.stat.modTime, dirLstat.mtimeNs.toString());

  const link = stats.get("link");
  assert.equal(link?.kind, "symlink");
  assert.equal(link?.stat.mode, 134218239);
  assert.equal(link?.stat.linkname, "a.txt");
  assert.equal(link?.stat.size, "5");
});

test("POSIX ↔ Go mode conversion", () => {
  assert.equal(goFileMode(0o040755), 2147484141);
  assert.equal(goFileMode(0o100644), 420);
  assert.equal(goFileMode(0o120777), 134218239);
  assert.equal(goFileMode(0o106755), (GoFileMode.Setuid | GoFileMode.Setgid | 0o755) >>> 0);
  assert.equal(goFileMode(0o041777), (GoFileMode.Dir | GoFileMode.Sticky | 0o777) >>> 0);
  assert.equal(goFileMode(0o010644), (GoFileMode.NamedPipe | 0o644) >>> 0);
  assert.equal(goFileMode(0o020666), (GoFileMode.Device | GoFileMode.CharDevice | 0o666) >>> 0);
  assert.equal(posixPermissions((GoFileMode.Setuid | GoFileMode.Sticky | 0o750) >>> 0), 0o5750);
  assert.equal(kindOfGoMode(420), "file");
  assert.equal(kindOfGoMode(2147484141), "dir");
  assert.equal(kindOfGoMode(134218239), "symlink");
  assert.equal(kindOfGoMode((GoFileMode.NamedPipe | 0o644) >>> 0), "other");
});

test("exclude patterns: .dockerignore semantics with re-included children", async (t) => {
  const root = await tree({
    ".dockerignore": "*.log\n",
    Dockerfile: "FROM scratch\n",
    "a.log": "",
    "keep.log": "",
    "build/out.bin": "",
    "src/build/x": "",
    "src/tmp/t": "",
    "tmp/t": "",
    "docs/README.md": "",
    "docs/guide.md": "",
    "docs/sub/x": "",
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  const excludePatterns = ["*.log", "!keep.log", "**/tmp", "/build", "docs", "!docs/README.md", ".dockerignore"];
  assert.deepEqual(await paths(root, { excludePatterns }), [
    "Dockerfile",
    "docs",
    "docs/README.md",
    "keep.log",
    "src",
    "src/build",
    "src/build/x",
  ]);
  // A wildcard exception means every excluded dir has to be walked; the dir is sent only with a re-included child.
  assert.deepEqual(await paths(root, { excludePatterns: ["docs", "tmp", "!**/README.md"] }), [
    ".dockerignore",
    "Dockerfile",
    "a.log",
    "build",
    "build/out.bin",
    "docs",
    "docs/README.md",
    "keep.log",
    "src",
    "src/build",
    "src/build/x",
    "src/tmp",
    "src/tmp/t",
  ]);
});

test("include patterns and followpaths send only what was asked, parents first", async (t) => {
  const root = await tree({
    Dockerfile: "FROM scratch\n",
    "Dockerfile.dockerignore": "",
    "sub/Dockerfile": "",
    "app/main.go": "",
    "app/lib/x.go": "",
    "app/README": "",
    "real/Dockerfile.real": "FROM scratch\n",
    "alias/Containerfile": { link: "../real/Dockerfile.real" },
    "abs-link": { link: "/real" },
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  assert.deepEqual(await paths(root, { followPaths: ["Dockerfile", "Dockerfile.dockerignore", ".dockerignore"] }), [
    "Dockerfile",
    "Dockerfile.dockerignore",
  ]);
  assert.deepEqual(await paths(root, { includePatterns: ["app/**/*.go"] }), ["app", "app/lib", "app/lib/x.go", "app/main.go"]);
  assert.deepEqual(await paths(root, { followPaths: ["alias/Containerfile"] }), [
    "alias",
    "alias/Containerfile",
    "real",
    "real/Dockerfile.real",
  ]);
  // An absolute link target is taken inside the served root.
  assert.deepEqual(await paths(root, { followPaths: ["abs-link/Dockerfile.real"] }), ["abs-link", "real", "real/Dockerfile.real"]);
  assert.deepEqual(await paths(root, { followPaths: ["."] }), await paths(root));
  assert.equal((await paths(root)).length, 14);
});

test("allowOnly limits the tree to exact paths and their parents", async (t) => {
  const root = await tree({ Dockerfile: "", secret: "", "ci/Dockerfile": "", "ci/other": "" });
  t.after(() => rm(root, { recursive: true, force: true }));
  assert.deepEqual(await paths(root, { allowOnly: ["ci/Dockerfile", "ci/Dockerfile.dockerignore"] }), ["ci", "ci/Dockerfile"]);
});

test("a 10,000-file tree is listed in order without holding contents", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "bkb-walk-big-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const expected: string[] = [];
  for (let d = 0; d < 10; d++) {
    const dir = `d${d}`;
    await mkdir(join(root, dir));
    expected.push(dir);
    const names = Array.from({ length: 1000 }, (_, i) => `f${i}`).sort();
    await Promise.all(names.map((name) => writeFile(join(root, dir, name), name)));
    for (const name of names) expected.push(`${dir}/${name}`);
  }
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    assert.deepEqual(await paths(root), expected);
  } finally {
    clearInterval(timer);
  }
  // Timers ran while walking: the walk yields to the event loop between batches.
  assert.ok(ticks > 0);
});

test("a missing root is an InvalidRequestError", async () => {
  await assert.rejects(paths(join(tmpdir(), "bkb-does-not-exist-x")), { name: "InvalidRequestError" });
});
