import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real git smart-HTTP server for tests: `git http-backend` behind a small Node server that, like GitHub, only
 * serves clones to HTTP basic auth `x-access-token:<installation token>`.
 */
export interface GitServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>` */
  host: string;
  /** Tokens accepted right now; tests may add and remove tokens while the server runs. */
  tokens: Set<string>;
  /**
   * Optional per-token repository scope, like an installation token minted for selected repositories: a token
   * mapped here may only clone the `owner/name` entries (lower case) of its set; others get 404 "Repository not
   * found", as on GitHub. A token absent from the map may clone every repository.
   */
  tokenRepos: Map<string, ReadonlySet<string>>;
  /**
   * `owner/name` entries (lower case) served without credentials, like a public repository on GitHub; credentials
   * that are sent are still checked. Empty by default: every clone needs a token.
   */
  publicRepos: Set<string>;
  /** Every request, oldest first. Never holds a token or an Authorization header. */
  requests: GitServerRequest[];
  createRepo(owner: string, name: string): Promise<GitRepo>;
  close(): Promise<void>;
}

export interface GitServerRequest {
  method: string;
  /** URL path without the query, e.g. `/octo/app.git/info/refs`. */
  path: string;
  /** User name of the basic credentials, when any were sent. */
  user?: string;
  status: number;
}

export interface GitRepo {
  /** `${url}/${owner}/${name}.git` */
  remote: string;
  /** The bare repository on disk. */
  dir: string;
  /**
   * Commits `files` (path → content, mode 100644) on top of the branch's current head, if any, then points
   * `refs/heads/<branch>` (default `main`) and HEAD at it. Returns the commit sha.
   */
  commit(files: Record<string, string>, opts?: { branch?: string; message?: string }): Promise<string>;
  /** Publishes any ref: `refs/heads/x`, `refs/tags/x`, `refs/pull/N/head`. */
  setRef(ref: string, sha: string): Promise<void>;
}

export const GIT_USER = "x-access-token";
const REALM = "buildkit-bot test git";

// Safety net for a test that forgets close(): the repositories of still-open servers are removed at exit.
const openRoots = new Set<string>();
let exitHookInstalled = false;
function removeAtExit(root: string): void {
  openRoots.add(root);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const dir of openRoots) rmSync(dir, { recursive: true, force: true });
  });
}

export async function startGitServer(opts: { tokens?: Iterable<string> } = {}): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), "bkb-git-"));
  removeAtExit(root);
  const projectRoot = join(root, "repos");
  await mkdir(projectRoot);
  const env = gitEnv(root);
  const tokens = new Set(opts.tokens ?? []);
  const tokenRepos = new Map<string, ReadonlySet<string>>();
  const publicRepos = new Set<string>();
  const requests: GitServerRequest[] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const credentials = basicCredentials(req.headers.authorization);
    const record: GitServerRequest = { method: req.method ?? "GET", path: url.pathname, status: 0 };
    if (credentials) record.user = credentials.user;
    requests.push(record);
    if (!credentials && publicRepos.has(repositoryOf(url.pathname))) {
      serveWithHttpBackend(req, res, url, { projectRoot, env, user: "anonymous" }, (status) => {
        record.status = status;
      });
      return;
    }
    if (!credentials || credentials.user !== GIT_USER || !tokens.has(credentials.password)) {
      record.status = 401;
      res.writeHead(401, { "WWW-Authenticate": `Basic realm="${REALM}"`, "Content-Type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    const scope = tokenRepos.get(credentials.password);
    if (scope && !scope.has(repositoryOf(url.pathname))) {
      record.status = 404;
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("Repository not found.\n");
      return;
    }
    serveWithHttpBackend(req, res, url, { projectRoot, env, user: credentials.user }, (status) => {
      record.status = status;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `http://${host}`;

  return {
    url,
    host,
    tokens,
    tokenRepos,
    publicRepos,
    requests,
    async createRepo(owner, name) {
      const dir = join(projectRoot, owner, `${name}.git`);
      await mkdir(join(projectRoot, owner), { recursive: true });
      await git(env, root, ["init", "--quiet", "--bare", "--initial-branch=main", dir]);
      for (const [key, value] of [
        ["uploadpack.allowAnySHA1InWant", "true"],
        ["uploadpack.allowReachableSHA1InWant", "true"],
        ["uploadpack.allowTipSHA1InWant", "true"],
        ["http.receivepack", "false"],
      ] as const) {
        await git(env, dir, ["config", key, value]);
      }
      return {
        remote: `${url}/${owner}/${name}.git`,
        dir,
        commit: (files, commitOpts) => commitFiles(env, dir, files, commitOpts),
        setRef: async (ref, sha) => {
          await git(env, dir, ["update-ref", ref, sha]);
        },
      };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(root, { recursive: true, force: true });
      openRoots.delete(root);
    },
  };
}

/** `/Owner/Name.git/info/refs` → `owner/name` */
function repositoryOf(path: string): string {
  const [, owner = "", name = ""] = decodeURIComponent(path).split("/");
  return `${owner}/${name.replace(/\.git$/, "")}`.toLowerCase();
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** An environment that never reads the machine's or user's git config, with a fixed identity. */
function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LANG: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "buildkit-bot tests",
    GIT_AUTHOR_EMAIL: "tests@buildkit-bot.invalid",
    GIT_COMMITTER_NAME: "buildkit-bot tests",
    GIT_COMMITTER_EMAIL: "tests@buildkit-bot.invalid",
  };
}

interface BackendContext {
  projectRoot: string;
  env: NodeJS.ProcessEnv;
  user: string;
}

function serveWithHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: BackendContext,
  onStatus: (status: number) => void,
): void {
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
  const cgiEnv: NodeJS.ProcessEnv = {
    ...ctx.env,
    GIT_PROJECT_ROOT: ctx.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? "GET",
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_USER: ctx.user,
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    AUTH_TYPE: "Basic",
  };
  const optional: Array<[string, string | undefined]> = [
    ["CONTENT_TYPE", header("content-type")],
    ["CONTENT_LENGTH", header("content-length")],
    // http-backend inflates gzip request bodies itself when told the encoding.
    ["HTTP_CONTENT_ENCODING", header("content-encoding")],
    ["HTTP_GIT_PROTOCOL", header("git-protocol")],
  ];
  for (const [name, value] of optional) if (value !== undefined) cgiEnv[name] = value;

  const cgi = spawn("git", ["http-backend"], { env: cgiEnv, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  cgi.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4096);
  });
  const fail = (message: string) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    onStatus(500);
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(`${message}\n${stderr}`);
  };
  cgi.on("error", (err) => fail(`git http-backend: ${err.message}`));
  cgi.stdin.on("error", () => {
    // The backend may answer (e.g. 403) without reading the whole body.
  });
  req.pipe(cgi.stdin);
  res.on("close", () => {
    if (cgi.exitCode === null) cgi.kill("SIGTERM");
  });

  let head = Buffer.alloc(0);
  let headerDone = false;
  cgi.stdout.on("data", (chunk: Buffer) => {
    if (headerDone) {
      if (!res.write(chunk)) {
        cgi.stdout.pause();
        res.once("drain", () => cgi.stdout.resume());
      }
      return;
    }
    head = Buffer.concat([head, chunk]);
    const parsed = parseCgiHead(head);
    if (!parsed) return;
    headerDone = true;
    onStatus(parsed.status);
    res.writeHead(parsed.status, parsed.headers);
    if (parsed.rest.length > 0) res.write(parsed.rest);
  });
  cgi.stdout.on("end", () => {
    if (!headerDone) fail("git http-backend ended without a CGI header");
    else res.end();
  });
}

function parseCgiHead(
  buffer: Buffer,
): { status: number; headers: Record<string, string>; rest: Buffer } | undefined {
  let end = buffer.indexOf("\r\n\r\n");
  let separator = 4;
  const lfEnd = buffer.indexOf("\n\n");
  if (lfEnd >= 0 && (end < 0 || lfEnd < end)) {
    end = lfEnd;
    separator = 2;
  }
  if (end < 0) return undefined;
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of buffer.subarray(0, end).toString("latin1").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers, rest: buffer.subarray(end + separator) };
}

async function commitFiles(
  env: NodeJS.ProcessEnv,
  dir: string,
  files: Record<string, string>,
  opts: { branch?: string; message?: string } = {},
): Promise<string> {
  const branchRef = `refs/heads/${opts.branch ?? "main"}`;
  const parent = await git(env, dir, ["rev-parse", "--verify", "--quiet", `${branchRef}^{commit}`]).catch(() => undefined);
  const indexEnv = { ...env, GIT_INDEX_FILE: join(dir, `index-${randomBytes(6).toString("hex")}`) };
  try {
    if (parent) await git(indexEnv, dir, ["read-tree", parent]);
    const entries: string[] = [];
    for (const [path, content] of Object.entries(files)) {
      const blob = await git(env, dir, ["hash-object", "-w", "--stdin"], content);
      entries.push(`100644 ${blob}\t${path}\n`);
    }
    await git(indexEnv, dir, ["update-index", "--add", "--index-info"], entries.join(""));
    const tree = await git(indexEnv, dir, ["write-tree"]);
    const message = opts.message ?? `Update ${Object.keys(files).join(", ") || "nothing"}`;
    const sha = await git(env, dir, ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", message]);
    await git(env, dir, ["update-ref", branchRef, sha]);
    await git(env, dir, ["symbolic-ref", "HEAD", branchRef]);
    return sha;
  } finally {
    await rm(indexEnv.GIT_INDEX_FILE, { force: true });
  }
}

/** Runs git in `cwd`; resolves its trimmed stdout, rejects with its stderr. */
function git(env: NodeJS.ProcessEnv, cwd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8").trim());
      else reject(new Error(`git ${args[0]} failed (${code}): ${Buffer.concat(err).toString("utf8").trim()}`));
    });
    // git may exit before reading its input (e.g. commands that take none): the EPIPE is not a failure.
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}
