import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function git(dir: string, args: string[]): Promise<Buffer | null> {
  try {
    const { stdout } = await run("git", ["-C", dir, ...args], { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch {
    return null;
  }
}

export async function resolveCommit(dir: string, ref: string): Promise<string | null> {
  if (ref.startsWith("-")) return null;
  const out = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  return out ? out.toString().trim() : null;
}

/** The object a full ref name points at (no peeling: an annotated tag answers type "tag"). */
export async function resolveRef(dir: string, fullRef: string): Promise<{ sha: string; type: string } | null> {
  if (fullRef.startsWith("-")) return null;
  // A branch head, the most frequent ask, is read from its loose ref file: two git processes take 10-15 ms, which
  // the benchmarks would count as GitHub's time at "0 ms delay".
  if (/^refs\/heads\/[^.][\w./-]*$/.test(fullRef) && !fullRef.includes("..")) {
    for (const path of [join(dir, ".git", fullRef), join(dir, fullRef)]) {
      const loose = await readFile(path, "utf8").catch(() => undefined);
      if (loose && /^[0-9a-f]{40}\n?$/.test(loose)) return { sha: loose.trim(), type: "commit" };
    }
  }
  const sha = await git(dir, ["rev-parse", "--verify", "--quiet", fullRef]);
  if (!sha) return null;
  const type = await git(dir, ["cat-file", "-t", sha.toString().trim()]);
  return type ? { sha: sha.toString().trim(), type: type.toString().trim() } : null;
}

export type TreeEntry = { type: "file" | "dir" | "symlink" | "submodule"; name: string; path: string; sha: string; size: number };

/** What lives at `path` in `commit`: a file (with its bytes), a directory listing, or nothing. */
export async function readPath(
  dir: string,
  commit: string,
  path: string,
): Promise<{ kind: "file"; sha: string; content: Buffer } | { kind: "dir"; entries: TreeEntry[] } | null> {
  const clean = path.replace(/^\/+|\/+$/g, "");
  const spec = `${commit}:${clean}`;
  const type = await git(dir, ["cat-file", "-t", spec]);
  if (!type) return null;
  const sha = (await git(dir, ["rev-parse", spec]))?.toString().trim() ?? "";
  if (type.toString().trim() === "blob") {
    const content = await git(dir, ["cat-file", "blob", sha]);
    return content ? { kind: "file", sha, content } : null;
  }
  if (type.toString().trim() !== "tree") return null;
  const listing = await git(dir, ["ls-tree", "-l", "-z", spec]);
  if (!listing) return null;
  const entries = listing
    .toString()
    .split("\0")
    .filter(Boolean)
    .map((line): TreeEntry => {
      const [meta = "", name = ""] = line.split("\t");
      const [mode = "", kind = "", objSha = "", size = "-"] = meta.trim().split(/\s+/);
      const t = kind === "tree" ? "dir" : kind === "commit" ? "submodule" : mode === "120000" ? "symlink" : "file";
      return { type: t, name, path: clean ? `${clean}/${name}` : name, sha: objSha, size: size === "-" ? 0 : Number(size) };
    });
  return { kind: "dir", entries };
}

export interface ChangedFile {
  filename: string;
  status: "added" | "removed" | "modified" | "renamed" | "copied" | "changed";
  additions: number;
  deletions: number;
  changes: number;
  previous_filename?: string;
}

const STATUS: Record<string, ChangedFile["status"]> = { A: "added", D: "removed", M: "modified", R: "renamed", C: "copied", T: "changed" };

/** Files changed from the merge base of `base` and `head` to `head`, like GitHub's three-dot compare. */
export async function changedFiles(dir: string, base: string, head: string): Promise<ChangedFile[] | null> {
  const range = `${base}...${head}`;
  const names = await git(dir, ["diff", "--name-status", "-z", "-M", range]);
  const nums = await git(dir, ["diff", "--numstat", "-z", "-M", range]);
  if (!names || !nums) return null;
  const fields = names.toString().split("\0").filter((f, i, all) => f !== "" || i < all.length - 1);
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++] ?? "";
    const letter = code.charAt(0);
    if (!letter) continue;
    if (letter === "R" || letter === "C") {
      const from = fields[i++] ?? "";
      const to = fields[i++] ?? "";
      files.push({ filename: to, previous_filename: from, status: STATUS[letter] ?? "changed", additions: 0, deletions: 0, changes: 0 });
    } else {
      files.push({ filename: fields[i++] ?? "", status: STATUS[letter] ?? "changed", additions: 0, deletions: 0, changes: 0 });
    }
  }
  // numstat -z: "<add>\t<del>\t<path>\0" or, for renames, "<add>\t<del>\t\0<from>\0<to>\0".
  const parts = nums.toString().split("\0");
  for (let i = 0; i < parts.length; i++) {
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/.exec(parts[i] ?? "");
    if (!m) continue;
    let path = m[3] ?? "";
    if (path === "") {
      i += 2;
      path = parts[i] ?? "";
    }
    const file = files.find((f) => f.filename === path);
    if (!file) continue;
    file.additions = m[1] === "-" ? 0 : Number(m[1]);
    file.deletions = m[2] === "-" ? 0 : Number(m[2]);
    file.changes = file.additions + file.deletions;
  }
  return files;
}

export async function mergeBase(dir: string, base: string, head: string): Promise<string | null> {
  const out = await git(dir, ["merge-base", base, head]);
  return out ? out.toString().trim() : null;
}

export async function commitsBetween(dir: string, base: string, head: string): Promise<string[]> {
  const out = await git(dir, ["rev-list", "--reverse", `${base}..${head}`]);
  return out ? out.toString().split("\n").filter(Boolean) : [];
}

/** A commit object as `git cat-file` stores it: its tree, parents and message; null when `sha` names no commit. */
export async function readCommitObject(dir: string, sha: string): Promise<{ tree: string; parents: string[]; message: string } | null> {
  if (!/^[0-9a-f]{40}$/.test(sha)) return null;
  const type = await git(dir, ["cat-file", "-t", sha]);
  if (type?.toString().trim() !== "commit") return null;
  const raw = (await git(dir, ["cat-file", "commit", sha]))?.toString();
  if (raw === undefined) return null;
  const end = raw.indexOf("\n\n");
  const headers = (end >= 0 ? raw.slice(0, end) : raw).split("\n");
  const tree = headers.find((h) => h.startsWith("tree "))?.slice(5) ?? "";
  const parents = headers.filter((h) => h.startsWith("parent ")).map((h) => h.slice(7));
  return { tree, parents, message: end >= 0 ? raw.slice(end + 2).replace(/\n$/, "") : "" };
}
