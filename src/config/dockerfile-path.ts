import { posix } from "node:path";

/** The Dockerfile path relative to the build context, as the daemon looks it up (the plan's path is from the repository root). */
export function dockerfileInContext(context: string, dockerfile: string): string {
  const subdir = posix.normalize(context || ".");
  return subdir === "." ? posix.normalize(dockerfile) : posix.relative(subdir, posix.normalize(dockerfile));
}
