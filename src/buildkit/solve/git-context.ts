import { posix } from "node:path";
import { InvalidRequestError, UnsupportedByDaemonError } from "../errors.js";

/** The git remote's host exactly as the daemon names it in `GIT_AUTH_TOKEN.<host>`: host and port as written. */
export function gitRemoteHost(remote: string): string {
  const match = /^https?:\/\/([^/?#]+)\//i.exec(remote);
  if (!match?.[1]) throw new InvalidRequestError("git context remote must be an https:// or http:// URL ending in .git");
  if (match[1].includes("@")) {
    throw new InvalidRequestError("git context remote must not carry credentials; pass the token as gitAuthToken");
  }
  return match[1];
}

/** The session secret id that carries the git token for this remote (docs/buildkit-wire.md#git-auth). */
export function gitAuthSecretId(remote: string): string {
  return `GIT_AUTH_TOKEN.${gitRemoteHost(remote)}`;
}

export interface GitContextAttrs {
  context: string;
  /** Only on daemons without `#ref:subdir` support. */
  contextsubdir?: string;
  filename: string;
}

/**
 * FrontendAttrs for a git context. With a subdir, daemons that understand `#ref:subdir` get it in the fragment
 * (it scopes context and Dockerfile lookup); BuildKit 0.8 rejects that, so there the context is narrowed with
 * `contextsubdir` and the Dockerfile path is given from the repository root instead (docs/buildkit-wire.md#git-context).
 */
export function gitContextAttrs(
  context: { remote: string; ref: string; subdir?: string },
  dockerfile: string,
  subdirFragment: boolean,
): GitContextAttrs {
  gitRemoteHost(context.remote);
  const remote = context.remote.split("#")[0] ?? context.remote;
  if (!/\.git$/i.test(new URL(remote).pathname)) {
    throw new InvalidRequestError("git context remote must end in .git (the daemon only treats such https URLs as git)");
  }
  if (!context.ref || /[#:\s]/.test(context.ref)) {
    throw new InvalidRequestError(`invalid git ref "${context.ref}"`);
  }
  // HEAD (the default branch) is left out of the fragment where an empty ref means the default branch (BuildKit
  // >= 0.9, the same daemons that take `#ref:subdir`): from 0.13 on, a named ref must match refs/heads/* or
  // refs/tags/* in `git ls-remote`, so `#HEAD` fails with "repository does not contain ref HEAD". BuildKit 0.8
  // reads an empty ref as "master", so it keeps `#HEAD`, which it resolves.
  const ref = context.ref === "HEAD" && subdirFragment ? "" : context.ref;
  const subdir = normaliseSubdir(context.subdir);
  if (subdir === undefined) return { context: ref ? `${remote}#${ref}` : remote, filename: dockerfile };
  if (subdirFragment) return { context: `${remote}#${ref}:${subdir}`, filename: dockerfile };
  const filename = posix.normalize(posix.join(subdir, dockerfile));
  if (posix.isAbsolute(dockerfile) || filename === ".." || filename.startsWith("../")) {
    throw new UnsupportedByDaemonError(
      "git-context-subdir",
      `this daemon cannot take a git subdir in the context URL, and the Dockerfile "${dockerfile}" cannot be addressed from the repository root instead`,
    );
  }
  return { context: ref ? `${remote}#${ref}` : remote, contextsubdir: subdir, filename };
}

function normaliseSubdir(subdir: string | undefined): string | undefined {
  if (subdir === undefined) return undefined;
  const normal = posix.normalize(subdir.replace(/^\/+/, "")).replace(/\/+$/, "");
  if (normal === "." || normal === "") return undefined;
  if (normal === ".." || normal.startsWith("../") || /[#:]/.test(normal)) {
    throw new InvalidRequestError(`invalid git context subdir "${subdir}"`);
  }
  return normal;
}
