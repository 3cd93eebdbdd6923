import { access, constants, mkdir, readdir } from "node:fs/promises";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./run-command.js";

/** Where a standalone buildkitd comes from, in the order the stack looks. */
export type BuildkitdSource = "variable" | "shared-tarball" | "path";

export interface BuildkitdBinary {
  /** Absolute path of `buildkitd`. */
  path: string;
  source: BuildkitdSource;
  /** `buildkit-vX.Y.Z` from the tarball's folder name, when known. */
  release?: string;
}

/** The one line a test prints when it cannot run for want of a standalone buildkitd. */
export const NO_BUILDKITD_HINT =
  "needs a standalone buildkitd: set BKB_BUILDKITD_BIN=/path/to/buildkitd or put buildkitd on PATH " +
  "(with Debian's runc and containernetworking-plugins), or point BKB_TEST_BUILDKITD_ADDR=tcp://host:port at a running daemon";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/**
 * `../shared/buildkit`, the folder beside the checkout that holds the BuildKit release tarball (buildkitd v0.24.0,
 * what production runs): on the project's machines and in CI, not on a user's.
 */
export const SHARED_BUILDKIT_DIR = resolve(REPO_ROOT, "..", "shared", "buildkit");

/**
 * Finds a buildkitd: `BKB_BUILDKITD_BIN`, else the shared release tarball (extracted into `binDir`, the stack's own
 * state), else `buildkitd` on PATH. Undefined when there is none.
 */
export async function locateBuildkitd(
  binDir: string,
  env: NodeJS.ProcessEnv = process.env,
  sharedDir: string = SHARED_BUILDKIT_DIR,
): Promise<BuildkitdBinary | undefined> {
  const fromVariable = env.BKB_BUILDKITD_BIN;
  if (fromVariable) {
    if (!(await isExecutable(fromVariable))) throw new Error(`BKB_BUILDKITD_BIN=${fromVariable} is not an executable file`);
    return { path: resolve(fromVariable), source: "variable" };
  }
  const tarball = await sharedTarball(sharedDir);
  if (tarball) {
    await mkdir(binDir, { recursive: true });
    await runCommand("tar", ["-xJf", tarball.file, "-C", binDir]);
    return { path: join(binDir, tarball.release, "buildkitd"), source: "shared-tarball", release: tarball.release };
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && (await isExecutable(join(dir, "buildkitd")))) return { path: join(dir, "buildkitd"), source: "path" };
  }
  return undefined;
}

async function sharedTarball(sharedDir: string): Promise<{ file: string; release: string } | undefined> {
  let names: string[];
  try {
    names = await readdir(sharedDir);
  } catch {
    return undefined;
  }
  const newest = names
    .map((name) => /^(buildkit-v(\d+)\.(\d+)\.(\d+))-linux-amd64\.tar\.xz$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[2]) - Number(a[2]) || Number(b[3]) - Number(a[3]) || Number(b[4]) - Number(a[4]))[0];
  return newest ? { file: join(sharedDir, newest[0]), release: newest[1] as string } : undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
