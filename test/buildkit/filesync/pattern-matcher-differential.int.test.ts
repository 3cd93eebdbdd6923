import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import type { Ignore } from "@balena/dockerignore";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import { PatternMatcher } from "../../../src/buildkit/filesync/pattern-matcher.js";
import type { MatchState } from "../../../src/buildkit/filesync/pattern-matcher.js";
import { buildkitdDaemon } from "../../support/daemons.js";
import { runCommand } from "../../support/stack/run-command.js";
import { testStack } from "../../support/stack/env.js";
import { writeTree } from "../../support/write-tree.js";

// A CommonJS module whose typings declare an ES default export: loaded with require, typed by its own declaration.
const dockerignore = createRequire(import.meta.url)("@balena/dockerignore") as () => Ignore;

/**
 * BuildKit's own answer: the Dockerfile frontend reads `.dockerignore` and the client's walker applies it. buildctl
 * (Go: moby/patternmatcher under fsutil's walker) and our library (our PatternMatcher under our walker) build the
 * same context with `COPY . /out` and export it with `type=local`; both must equal what our matcher says, file by
 * file. The tree hits each rule and each intended difference from @balena/dockerignore.
 */
const DOCKERIGNORE = [
  "\uFEFF# comment lines and blank lines are not patterns",
  "",
  "**.log", // patternmatcher's suffix match: every path ending in .log
  "!keep.log",
  "  *.txt  ", // case-sensitive: Upper.TXT stays
  "a+b", // `+` is a literal
  "x[^a]y", // a class that matches `/`: tried against every ancestor
  "q",
  "!q/keep",
  "q", // skipped on q, so q/keep stays (the walk carries the parent's results)
  "/build",
  "./docs/",
  "!docs/README.md",
  "**/node_modules",
  "cache/tmp?",
  "l/[a-z]*", // case-sensitive: l/Beta stays
  "star\\*name",
  "caret^*", // `^` is an anchor in Docker's regexp: this never matches
  "#hash", // a comment: the file #hash stays
  " #spaced", // not a comment (the # is not first): trimmed, it excludes the file #spaced
].join("\n");

const FILES = [
  "Dockerfile",
  ".dockerignore",
  "a.log",
  "keep.log",
  "dir/b.log",
  "dir/sub/c.log",
  "Upper.TXT",
  "upper.txt",
  "a+b",
  "aab",
  "x/y/z",
  "xqy",
  "q/keep",
  "q/other",
  "build/out.bin",
  "src/build/x",
  "docs/guide.md",
  "docs/README.md",
  "node_modules/m/index.js",
  "app/node_modules/m/index.js",
  "cache/tmp1",
  "cache/tmp22",
  "l/alpha",
  "l/Beta",
  "star*name",
  "starxname",
  "caret^x",
  "#hash",
  "#spaced",
];

/** The frontend's reading of a `.dockerignore`: a BOM dropped, `#` lines skipped, the rest trimmed. */
function readIgnoreFile(text: string): string[] {
  return text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .filter((line) => !line.startsWith("#"))
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/** What our matcher sends of `files`, walking like the context walker (parent results carried down). */
function expectedFiles(patterns: string[], files: string[]): string[] {
  const matcher = new PatternMatcher(patterns);
  const states = new Map<string, { matched: boolean; state: MatchState }>();
  const at = (path: string): { matched: boolean; state: MatchState } => {
    let known = states.get(path);
    if (!known) {
      const parent = path.includes("/") ? at(dirname(path)).state : undefined;
      known = matcher.match(path, parent);
      states.set(path, known);
    }
    return known;
  };
  return files.filter((f) => !at(f).matched).sort();
}

async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(path);
  }
  return out.sort();
}

const daemon = buildkitdDaemon();
describe(".dockerignore: our matcher, our library's export and buildctl's export agree", { skip: daemon.skip }, () => {
  let work: string;
  let context: string;
  let client: BuildKitClient;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-dockerignore-"));
    context = join(work, "context");
    await writeTree(context, {
      ...Object.fromEntries(FILES.map((f) => [f, `content of ${f}\n`])),
      Dockerfile: "FROM scratch\nCOPY . /out\n",
      ".dockerignore": DOCKERIGNORE,
    });
    client = await BuildKitClient.connect(daemon.address);
  });
  after(async () => {
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("the same files, file by file", { timeout: 180_000 }, async () => {
    const patterns = readIgnoreFile(DOCKERIGNORE);
    const expected = expectedFiles(patterns, FILES);

    const ours = join(work, "ours");
    await client.solve({ context: { type: "local", dir: context }, output: { type: "local", dest: ours } });

    const binary = testStack().buildkitdBinary;
    assert.ok(binary, "the stack names its buildkitd binary; buildctl ships beside it");
    const theirs = join(work, "buildctl");
    await runCommand(join(dirname(binary), "buildctl"), [
      "--addr", daemon.address, "build", "--frontend", "dockerfile.v0",
      "--local", `context=${context}`, "--local", `dockerfile=${context}`,
      "--output", `type=local,dest=${theirs}`,
    ]);

    assert.deepEqual(await listFiles(join(theirs, "out")), expected, "buildctl (Docker's matcher) against our matcher");
    assert.deepEqual(await listFiles(join(ours, "out")), expected, "our library's export against our matcher");

    // The files where @balena/dockerignore, given the same file, would have answered otherwise: each is an intended
    // difference pinned in pattern-matcher-differential.test.ts.
    const balena = dockerignore().add(DOCKERIGNORE);
    const balenaDiffers = FILES.filter((f) => balena.ignores(f) === expected.includes(f)).sort();
    assert.deepEqual(balenaDiffers, ["Upper.TXT", "a+b", "a.log", "aab", "dir/b.log", "dir/sub/c.log", "l/Beta", "q/keep", "x/y/z"]);
  });
});
