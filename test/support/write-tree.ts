import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Writes `files` (relative path → content) under `root`, creating directories; returns `root`. */
export async function writeTree(root: string, files: Record<string, string>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}
