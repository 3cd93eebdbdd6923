import { createHmac, createPublicKey, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyAppJwt } from "./app-jwt.js";
import { changedFiles, commitsBetween, mergeBase, readCommitObject, readPath, resolveCommit, resolveRef } from "./git-reader.js";
import { LIMITS, validateCheckRun, validateStatus, type FieldError } from "./limits.js";
import { WriteCounter } from "./write-counter.js";
import type {
  FakeAnnotation,
  FakeCheckRun,
  FakeHookDelivery,
  FakeInstallation,
  FakePullRequest,
  FakeRepository,
  FakeRepositoryRole,
  FakeStatus,
  GitRepoLike,
  GitServerLike,
  MintedToken,
  PermissionLevel,
  Permissions,
  RecordedCall,
} from "./types.js";

/** The contents API inlines a file's content only up to 1 MB; over that its default media type sends `"encoding": "none"`. */
export const CONTENTS_INLINE_BYTES = 1024 * 1024;

export type * from "./types.js";
export { LIMITS } from "./limits.js";

export interface FakeGitHubOptions<R extends GitRepoLike = GitRepoLike> {
  appId: number;
  publicKeyPem: string;
  webhookSecret?: string;
  /** Added before every response (benchmarks run 0 and 100 ms). Mutable later through `delayMs`. */
  delayMs?: number;
  gitServer?: GitServerLike<R>;
  /** Where `deliver()` posts webhooks; can be set later with `setWebhookUrl`. */
  webhookUrl?: string;
  /** Answer content-creating requests beyond these counts with GitHub's secondary-limit 403. Off by default. */
  secondaryLimits?: { perMinute: number; perHour: number };
  /** Lifetime of minted tokens, ms (GitHub: 1 h). */
  tokenTtlMs?: number;
}

const DOCS = "https://docs.github.com/rest";
const HOOK_DELIVERIES_KEPT = 2_000;

/** The fields a delivery list shows of a payload (not read from bodies over 1 MB, which benchmarks send by the hundred). */
function fieldsOf(body: string): { action?: unknown; installation?: { id?: unknown }; repository?: { id?: unknown } } {
  if (body.length > 1024 * 1024) return {};
  try {
    return (JSON.parse(body) ?? {}) as { action?: unknown; installation?: { id?: unknown }; repository?: { id?: unknown } };
  } catch {
    return {};
  }
}
/** GitHub Enterprise Server's REST prefix; served as well as the bare paths. */
const API_V3 = "/api/v3";
const DEFAULT_PERMISSIONS: Permissions = {
  checks: "write",
  statuses: "write",
  contents: "read",
  pull_requests: "read",
  metadata: "read",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message));
  }
}

const notFound = () => new HttpError(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
const badCredentials = () => new HttpError(401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
const forbidden = () =>
  new HttpError(403, { message: "Resource not accessible by integration", documentation_url: DOCS, status: "403" });
const invalid = (errors: FieldError[]) =>
  new HttpError(422, { message: "Validation Failed", errors, documentation_url: DOCS, status: "422" });

const levelRank = (l: PermissionLevel | undefined): number => (l === "write" ? 2 : l === "read" ? 1 : 0);

interface Request {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: unknown;
}

interface Reply {
  status: number;
  body?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
}

export class FakeGitHub<R extends GitRepoLike = GitRepoLike> {
  readonly calls: RecordedCall[] = [];
  readonly deliveries: Array<{ event: string; deliveryId: string; status: number }> = [];
  /** Every delivery attempt, redeliveries included, oldest first: what `GET /app/hook/deliveries` lists. */
  readonly hookDeliveries: FakeHookDelivery[] = [];
  /** What each attempt sent, to send it again on a redelivery. */
  readonly #sent = new Map<number, { event: string; body: string; url: string }>();
  #nextHookDeliveryId = 70_000;
  /** Deliveries (by guid) whose redelivery is refused with 422, as GitHub refuses one it no longer keeps. */
  readonly refusedRedeliveries = new Set<string>();
  /** Redeliveries asked for and not yet answered by the app. */
  #redeliveries = new Set<Promise<unknown>>();
  readonly writes = new WriteCounter();
  readonly installations = new Map<number, FakeInstallation>();
  readonly repositories = new Map<string, FakeRepository>();
  readonly tokens = new Map<string, MintedToken>();
  readonly checkRuns = new Map<number, FakeCheckRun>();
  readonly statuses: FakeStatus[] = [];
  readonly pullRequests = new Map<string, FakePullRequest>();
  /** `owner/repo:login` (lower case) → role; see setCollaborator. */
  readonly collaborators = new Map<string, FakeRepositoryRole>();
  delayMs: number;
  url = "";
  #server: Server;
  #publicKey: KeyObject;
  #webhookUrl: string | undefined;
  #nextRepoId = 1000;
  #nextCheckRunId = 5000;
  #nextStatusId = 9000;

  constructor(private readonly options: FakeGitHubOptions<R>) {
    this.delayMs = options.delayMs ?? 0;
    this.#publicKey = createPublicKey(options.publicKeyPem);
    this.#webhookUrl = options.webhookUrl;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const token of this.tokens.keys()) this.#forgetOnGitServer(token);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- set-up for tests -------------------------------------------------------------------------------

  addInstallation(id: number, account: string, permissions: Permissions = DEFAULT_PERMISSIONS): FakeInstallation {
    const inst = { id, account, permissions: { ...permissions } };
    this.installations.set(id, inst);
    return inst;
  }

  addRepository(repo: { installationId: number; owner: string; name: string; id?: number; dir?: string; private?: boolean; defaultBranch?: string }): FakeRepository {
    if (!this.installations.has(repo.installationId)) this.addInstallation(repo.installationId, repo.owner);
    const r: FakeRepository = {
      id: repo.id ?? this.#nextRepoId++,
      owner: repo.owner,
      name: repo.name,
      installationId: repo.installationId,
      private: repo.private ?? true,
      defaultBranch: repo.defaultBranch ?? "main",
      dir: repo.dir,
    };
    this.repositories.set(`${r.owner}/${r.name}`.toLowerCase(), r);
    return r;
  }

  /** Creates the repository on the git server and registers it with an installation. */
  async createRepo(installationId: number, owner: string, name: string, opts: { private?: boolean; defaultBranch?: string } = {}): Promise<R & { id: number; fullName: string }> {
    if (!this.options.gitServer) throw new Error("startFakeGitHub was given no gitServer");
    const git = await this.options.gitServer.createRepo(owner, name);
    const r = this.addRepository({ installationId, owner, name, dir: git.dir, ...opts });
    // A public repository clones without credentials, as on GitHub.
    if (!r.private) this.options.gitServer.publicRepos?.add(`${owner}/${name}`.toLowerCase());
    return Object.assign(git, { id: r.id, fullName: `${owner}/${name}` });
  }

  setPullRequest(
    owner: string,
    repo: string,
    number: number,
    refs: { base: string; head: string; headRepo?: string; authorAssociation?: string; state?: "open" | "closed" },
  ): void {
    this.pullRequests.set(`${owner}/${repo}#${number}`.toLowerCase(), { owner, repo, number, ...refs });
  }

  /** Gives `login` a role on the repository, as `GET …/collaborators/{username}/permission` reports it. */
  setCollaborator(owner: string, repo: string, login: string, role: FakeRepositoryRole): void {
    this.collaborators.set(`${owner}/${repo}:${login}`.toLowerCase(), role);
  }

  setWebhookUrl(url: string): void {
    this.#webhookUrl = url;
  }

  /** Expires every minted token now (or only `token`), as if an hour had passed. */
  expireTokens(token?: string): void {
    for (const t of this.tokens.values()) {
      if (token === undefined || t.token === token) {
        t.expiresAt = 0;
        this.#forgetOnGitServer(t.token);
      }
    }
  }

  // ---- state queries -------------------------------------------------------------------------------------

  checkRun(id: number): FakeCheckRun | undefined {
    return this.checkRuns.get(id);
  }

  findCheckRuns(filter: { owner?: string; repo?: string; sha?: string; name?: string } = {}): FakeCheckRun[] {
    return [...this.checkRuns.values()].filter(
      (c) =>
        (filter.owner === undefined || c.owner === filter.owner) &&
        (filter.repo === undefined || c.repo === filter.repo) &&
        (filter.sha === undefined || c.head_sha === filter.sha) &&
        (filter.name === undefined || c.name === filter.name),
    );
  }

  /** Every status posted for a commit, oldest first; filter by context for one check's history. */
  statusHistory(owner: string, repo: string, sha: string, context?: string): FakeStatus[] {
    return this.statuses.filter((s) => s.owner === owner && s.repo === repo && s.sha === sha && (context === undefined || s.context === context));
  }

  /** The current state per context, as GitHub's combined status shows it. */
  latestStatus(owner: string, repo: string, sha: string, context: string): FakeStatus | undefined {
    return this.statusHistory(owner, repo, sha, context).at(-1);
  }

  writeStats(): { total: number; peakPerMinute: number; peakPerHour: number } {
    return { total: this.writes.total, peakPerMinute: this.writes.peakPerMinute, peakPerHour: this.writes.peakPerHour };
  }

  // ---- webhooks -------------------------------------------------------------------------------------------

  /**
   * Sends a signed webhook delivery to the app and returns its answer, and records the attempt as GitHub does
   * (`GET /app/hook/deliveries`): "OK" for a 2xx answer, else the failure. A connection the app refuses is recorded
   * ("failed to connect") and then thrown. `answerLost`: the app answers, but GitHub records the attempt as timed out
   * (an answer lost on its way back), so it counts as failed although the app has it.
   */
  async deliver(
    event: string,
    payload: unknown,
    opts: { deliveryId?: string; url?: string; answerLost?: boolean } = {},
  ): Promise<{ status: number; body: string; deliveryId: string }> {
    const target = opts.url ?? this.#webhookUrl;
    if (!target) throw new Error("no webhook URL: pass one to startFakeGitHub, setWebhookUrl or deliver");
    const deliveryId = opts.deliveryId ?? randomUUID();
    const body = JSON.stringify(payload);
    const res = await this.#send({ event, body, url: target }, deliveryId, false, opts.answerLost ?? false);
    this.deliveries.push({ event, deliveryId, status: res.status });
    return { ...res, deliveryId };
  }

  /** Waits until every redelivery asked for so far has been answered by the app. */
  async redeliveriesSettled(): Promise<void> {
    while (this.#redeliveries.size > 0) await Promise.allSettled([...this.#redeliveries]);
  }

  async #send(what: { event: string; body: string; url: string }, guid: string, redelivery: boolean, answerLost = false): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/fake",
      "x-github-event": what.event,
      "x-github-delivery": guid,
      "x-github-hook-id": "1",
      "x-github-hook-installation-target-type": "integration",
      "x-github-hook-installation-target-id": String(this.options.appId),
    };
    if (this.options.webhookSecret !== undefined) {
      headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", this.options.webhookSecret).update(what.body).digest("hex")}`;
    }
    const started = Date.now();
    const parsed = fieldsOf(what.body);
    const item: FakeHookDelivery = {
      id: this.#nextHookDeliveryId++,
      guid,
      delivered_at: new Date(started).toISOString(),
      redelivery,
      duration: 0,
      status: "OK",
      status_code: 200,
      event: what.event,
      action: typeof parsed.action === "string" ? parsed.action : null,
      installation_id: typeof parsed.installation?.id === "number" ? parsed.installation.id : null,
      repository_id: typeof parsed.repository?.id === "number" ? parsed.repository.id : null,
      throttled_at: null,
    };
    this.#sent.set(item.id, what);
    try {
      const res = await fetch(what.url, { method: "POST", headers, body: what.body });
      const text = await res.text();
      // GitHub's words: "OK" for 2xx, "Invalid HTTP Response: <code>" otherwise.
      item.status = answerLost ? "timed out" : res.ok ? "OK" : `Invalid HTTP Response: ${res.status}`;
      item.status_code = answerLost ? 0 : res.status;
      return { status: res.status, body: text };
    } catch (err) {
      item.status = "failed to connect";
      item.status_code = 0;
      throw err;
    } finally {
      item.duration = (Date.now() - started) / 1000;
      this.hookDeliveries.push(item);
      // Benchmarks deliver thousands: keep the newest attempts (and the bodies to redeliver them) only.
      for (const old of this.hookDeliveries.splice(0, Math.max(0, this.hookDeliveries.length - HOOK_DELIVERIES_KEPT))) this.#sent.delete(old.id);
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? "/", this.url || "http://127.0.0.1");
    // Octokit with GHE_HOST=127.0.0.1:<port> sends every REST call under GitHub Enterprise's `/api/v3` prefix.
    if (url.pathname === API_V3 || url.pathname.startsWith(`${API_V3}/`)) url.pathname = url.pathname.slice(API_V3.length) || "/";
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    let reply: Reply;
    try {
      try {
        body = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        throw new HttpError(400, { message: "Problems parsing JSON", documentation_url: DOCS, status: "400" });
      }
      reply = await this.#route({ method: req.method ?? "GET", url, headers: req.headers, body }, at);
    } catch (err) {
      if (err instanceof HttpError) reply = { status: err.status, body: err.body, headers: err.headers };
      else reply = { status: 500, body: { message: err instanceof Error ? err.message : String(err) } };
    }
    this.calls.push({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), body, at, status: reply.status });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const payload = reply.raw ?? (reply.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(reply.body)));
    res.writeHead(reply.status, {
      "content-type": reply.raw ? "application/vnd.github.raw" : "application/json; charset=utf-8",
      "content-length": String(payload.length),
      "x-github-request-id": randomUUID(),
      ...reply.headers,
    });
    res.end(payload);
  }

  /**
   * The next `times` requests of `method path` are answered `status` with GitHub's own error body, as during an
   * outage of that one endpoint, before anything else is checked.
   */
  failNext(method: string, path: string, status: number, times = 1): void {
    this.#failing.push({ method, path, status, left: times });
  }

  readonly #failing: Array<{ method: string; path: string; status: number; left: number }> = [];

  async #route(req: Request, at: number): Promise<Reply> {
    const p = req.url.pathname;
    const m = req.method;
    const failing = this.#failing.find((f) => f.left > 0 && f.method === m && f.path === p);
    if (failing) {
      failing.left--;
      throw new HttpError(failing.status, { message: "Server Error", documentation_url: DOCS, status: String(failing.status) });
    }
    let g: RegExpExecArray | null;
    if (m === "GET" && p === "/app") {
      this.#requireJwt(req);
      return { status: 200, body: { id: this.options.appId, slug: "buildkit-bot", name: "buildkit-bot", owner: { login: "fake" } } };
    }
    if (p === "/app/hook/deliveries" && m === "GET") {
      this.#requireJwt(req);
      return this.#listHookDeliveries(req);
    }
    if ((g = /^\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(p)) && m === "POST") {
      this.#requireJwt(req);
      return this.#redeliver(Number(g[1]));
    }
    if ((g = /^\/app\/installations\/(\d+)$/.exec(p)) && m === "GET") {
      this.#requireJwt(req);
      return { status: 200, body: this.#installationJson(this.#installation(Number(g[1]))) };
    }
    if ((g = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p)) && m === "POST") {
      this.#requireJwt(req);
      return this.#mintToken(this.#installation(Number(g[1])), req.body);
    }
    if (p === "/installation/repositories" && m === "GET") return this.#installationRepositories(req);
    g = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(p);
    if (!g) throw notFound();
    const owner = decodeURIComponent(g[1] ?? "");
    const name = decodeURIComponent(g[2] ?? "");
    const rest = g[3] ?? "";
    if (rest === "/installation" && m === "GET") {
      this.#requireJwt(req);
      const repo = this.#repo(owner, name);
      return { status: 200, body: this.#installationJson(this.#installation(repo.installationId)) };
    }
    let h: RegExpExecArray | null;
    if ((h = /^\/contents(?:\/(.*))?$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "contents", "read");
      return this.#contents(req, repo, decodeURIComponent(h[1] ?? ""));
    }
    if ((h = /^\/git\/ref\/(.+)$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "contents", "read");
      return this.#gitRef(repo, decodeURIComponent(h[1] ?? ""));
    }
    if ((h = /^\/git\/commits\/([^/]+)$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "contents", "read");
      return this.#gitCommit(repo, decodeURIComponent(h[1] ?? ""));
    }
    if ((h = /^\/compare\/(.+)\.\.\.(.+)$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "contents", "read");
      return this.#compare(repo, decodeURIComponent(h[1] ?? ""), decodeURIComponent(h[2] ?? ""));
    }
    if ((h = /^\/pulls\/(\d+)$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "pull_requests", "read");
      return this.#pull(repo, Number(h[1]));
    }
    if ((h = /^\/collaborators\/([^/]+)\/permission$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "metadata", "read");
      return this.#collaboratorPermission(repo, decodeURIComponent(h[1] ?? ""));
    }
    if ((h = /^\/pulls\/(\d+)\/files$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "pull_requests", "read");
      return this.#pullFiles(req, repo, Number(h[1]));
    }
    if (rest === "/check-runs" && m === "POST") {
      const repo = this.#authorizeRepo(req, owner, name, "checks", "write");
      this.#countWrite(at);
      return this.#createCheckRun(repo, req.body);
    }
    if ((h = /^\/commits\/([^/]+)\/check-runs$/.exec(rest)) && m === "GET") {
      const repo = this.#authorizeRepo(req, owner, name, "checks", "read");
      return this.#listCheckRunsForRef(req, repo, decodeURIComponent(h[1] ?? ""));
    }
    if ((h = /^\/check-runs\/(\d+)$/.exec(rest)) && (m === "PATCH" || m === "GET")) {
      const repo = this.#authorizeRepo(req, owner, name, "checks", m === "GET" ? "read" : "write");
      const run = this.checkRuns.get(Number(h[1]));
      if (!run || run.owner !== repo.owner || run.repo !== repo.name) throw notFound();
      if (m === "GET") return { status: 200, body: this.#checkRunJson(run) };
      this.#countWrite(at);
      return this.#updateCheckRun(run, req.body);
    }
    if ((h = /^\/statuses\/([0-9a-f]{40})$/.exec(rest)) && m === "POST") {
      const repo = this.#authorizeRepo(req, owner, name, "statuses", "write");
      this.#countWrite(at);
      return this.#createStatus(repo, h[1] ?? "", req.body);
    }
    throw notFound();
  }

  // ---- webhook deliveries (GitHub's REST description: apps/list-webhook-deliveries, apps/redeliver-webhook-delivery) ----

  /** Newest first; `per_page` up to 100 (default 30); an opaque `cursor`, with the next page in the `Link` header. */
  #listHookDeliveries(req: Request): Reply {
    const perPageText = req.url.searchParams.get("per_page");
    const perPage = perPageText === null ? 30 : Number(perPageText);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
      throw invalid([{ resource: "HookDelivery", field: "per_page", code: "invalid", message: "per_page must be between 1 and 100" }]);
    }
    const cursor = req.url.searchParams.get("cursor");
    let before = Number.POSITIVE_INFINITY;
    if (cursor !== null) {
      const c = /^v1_(\d+)$/.exec(cursor);
      if (!c) throw new HttpError(400, { message: "Bad cursor", documentation_url: DOCS, status: "400" });
      before = Number(c[1]);
    }
    const newestFirst = [...this.hookDeliveries].sort((a, b) => b.id - a.id).filter((d) => d.id < before);
    const page = newestFirst.slice(0, perPage);
    const headers: Record<string, string> = {};
    if (newestFirst.length > perPage && page.length > 0) {
      headers.link = `<${this.url}/app/hook/deliveries?per_page=${perPage}&cursor=v1_${page.at(-1)!.id}>; rel="next"`;
    }
    return { status: 200, body: page, headers };
  }

  /** 202 at once; the delivery is sent again (same guid, body and signature) right after, as a new attempt. */
  #redeliver(id: number): Reply {
    const item = this.hookDeliveries.find((d) => d.id === id);
    const sent = this.#sent.get(id);
    if (!item || !sent) throw notFound();
    if (this.refusedRedeliveries.has(item.guid)) {
      throw invalid([{ resource: "HookDelivery", field: "id", code: "invalid", message: "This delivery can no longer be redelivered" }]);
    }
    const resend = this.#send(sent, item.guid, true).catch(() => undefined);
    this.#redeliveries.add(resend);
    void resend.finally(() => this.#redeliveries.delete(resend));
    return { status: 202, body: {} };
  }

  // ---- auth -------------------------------------------------------------------------------------------------

  #credential(req: Request): string {
    const header = req.headers.authorization ?? "";
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(header);
    if (!m) throw new HttpError(401, { message: "Requires authentication", documentation_url: DOCS, status: "401" });
    return m[1] ?? "";
  }

  #requireJwt(req: Request): void {
    const check = verifyAppJwt(this.#credential(req), this.options.appId, this.#publicKey);
    if (!check.ok) {
      throw new HttpError(401, { message: `A JSON web token could not be decoded (${check.reason})`, documentation_url: DOCS, status: "401" });
    }
  }

  /** The live installation token the request carries (a JWT or an unknown or expired token: 401). */
  #installationToken(req: Request): MintedToken {
    const token = this.tokens.get(this.#credential(req));
    if (!token || token.expiresAt <= Date.now()) throw badCredentials();
    return token;
  }

  #authorizeRepo(req: Request, owner: string, name: string, permission: string, level: PermissionLevel): FakeRepository {
    const token = this.#installationToken(req);
    const repo = this.repositories.get(`${owner}/${name}`.toLowerCase());
    // GitHub answers 404, not 403, for a repository the token cannot see.
    if (!repo || repo.installationId !== token.installationId) throw notFound();
    if (token.repositories && !token.repositories.has(`${repo.owner}/${repo.name}`.toLowerCase())) throw notFound();
    if (levelRank(token.permissions[permission]) < levelRank(level)) throw forbidden();
    return repo;
  }

  #installation(id: number): FakeInstallation {
    const inst = this.installations.get(id);
    if (!inst) throw notFound();
    return inst;
  }

  #repo(owner: string, name: string): FakeRepository {
    const repo = this.repositories.get(`${owner}/${name}`.toLowerCase());
    if (!repo) throw notFound();
    return repo;
  }

  #installationJson(inst: FakeInstallation): Record<string, unknown> {
    return {
      id: inst.id,
      app_id: this.options.appId,
      app_slug: "buildkit-bot",
      account: { login: inst.account, type: "Organization" },
      target_type: "Organization",
      repository_selection: "selected",
      permissions: inst.permissions,
      events: ["push", "pull_request", "check_run", "check_suite"],
    };
  }

  #mintToken(inst: FakeInstallation, body: unknown): Reply {
    const b = (body ?? {}) as { repositories?: unknown; repository_ids?: unknown; permissions?: unknown };
    const installed = [...this.repositories.values()].filter((r) => r.installationId === inst.id);
    let scope: Set<string> | undefined;
    const errors: FieldError[] = [];
    if (b.repositories !== undefined || b.repository_ids !== undefined) {
      scope = new Set();
      for (const n of Array.isArray(b.repositories) ? b.repositories : []) {
        const r = installed.find((x) => x.name.toLowerCase() === String(n).toLowerCase());
        if (!r) errors.push({ resource: "Installation", field: "repositories", code: "invalid", message: `There is at least one repository that does not exist or is not accessible to the parent installation.` });
        else scope.add(`${r.owner}/${r.name}`.toLowerCase());
      }
      for (const id of Array.isArray(b.repository_ids) ? b.repository_ids : []) {
        const r = installed.find((x) => x.id === Number(id));
        if (!r) errors.push({ resource: "Installation", field: "repository_ids", code: "invalid" });
        else scope.add(`${r.owner}/${r.name}`.toLowerCase());
      }
    }
    let permissions: Permissions = { ...inst.permissions };
    if (b.permissions !== undefined) {
      permissions = {};
      for (const [k, v] of Object.entries(b.permissions as Record<string, unknown>)) {
        if ((v !== "read" && v !== "write") || levelRank(v) > levelRank(inst.permissions[k])) {
          errors.push({ resource: "Installation", field: `permissions.${k}`, code: "invalid", message: "The permissions requested are not granted to this installation." });
        } else permissions[k] = v;
      }
    }
    if (errors.length > 0) throw invalid(errors);
    const token = `ghs_${randomBytes(27).toString("base64url").replace(/[-_]/g, "x").slice(0, 36)}`;
    const expiresAt = Date.now() + (this.options.tokenTtlMs ?? 3_600_000);
    this.tokens.set(token, { token, installationId: inst.id, repositories: scope, permissions, expiresAt, requested: body });
    const git = this.options.gitServer;
    if (git) {
      git.tokens.add(token);
      // Without a per-token scope on the git server, any minted token clones any repository there.
      git.tokenRepos?.set(token, scope ?? new Set(installed.map((r) => `${r.owner}/${r.name}`.toLowerCase())));
    }
    const repos = scope ? installed.filter((r) => scope.has(`${r.owner}/${r.name}`.toLowerCase())) : undefined;
    return {
      status: 201,
      body: {
        token,
        expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
        permissions,
        repository_selection: scope ? "selected" : "all",
        ...(repos ? { repositories: repos.map((r) => this.#repoJson(r)) } : {}),
      },
    };
  }

  #forgetOnGitServer(token: string): void {
    this.options.gitServer?.tokens.delete(token);
    this.options.gitServer?.tokenRepos?.delete(token);
  }

  #repoJson(r: FakeRepository): Record<string, unknown> {
    return { id: r.id, name: r.name, full_name: `${r.owner}/${r.name}`, private: r.private, owner: { login: r.owner }, default_branch: r.defaultBranch };
  }

  // ---- git-backed reads -------------------------------------------------------------------------------------

  #dir(repo: FakeRepository): string {
    if (!repo.dir) throw notFound();
    return repo.dir;
  }

  async #commit(repo: FakeRepository, ref: string): Promise<string> {
    const sha = await resolveCommit(this.#dir(repo), ref);
    if (!sha) throw new HttpError(404, { message: `No commit found for the ref ${ref}`, documentation_url: DOCS, status: "404" });
    return sha;
  }

  async #contents(req: Request, repo: FakeRepository, path: string): Promise<Reply> {
    const ref = req.url.searchParams.get("ref") ?? repo.defaultBranch;
    const commit = await this.#commit(repo, ref);
    const found = await readPath(this.#dir(repo), commit, path);
    if (!found) throw notFound();
    const api = `${this.url}/repos/${repo.owner}/${repo.name}/contents`;
    if (found.kind === "dir") {
      return {
        status: 200,
        body: found.entries.map((e) => ({ type: e.type, name: e.name, path: e.path, sha: e.sha, size: e.size, url: `${api}/${e.path}?ref=${ref}` })),
      };
    }
    if ((req.headers.accept ?? "").includes("application/vnd.github.raw")) return { status: 200, raw: found.content };
    // As GitHub: over 1 MB, the default media type gives the size but no content.
    const tooLarge = found.content.length > CONTENTS_INLINE_BYTES;
    const b64 = tooLarge ? "" : `${found.content.toString("base64").replace(/(.{60})/g, "$1\n")}\n`;
    return {
      status: 200,
      body: {
        type: "file",
        encoding: tooLarge ? "none" : "base64",
        size: found.content.length,
        name: path.split("/").pop(),
        path,
        content: b64,
        sha: found.sha,
        url: `${api}/${path}?ref=${ref}`,
      },
    };
  }

  async #gitRef(repo: FakeRepository, ref: string): Promise<Reply> {
    const full = `refs/${ref.replace(/^refs\//, "")}`;
    const found = /^refs\/(heads|tags|pull)\//.test(full) ? await resolveRef(this.#dir(repo), full) : null;
    if (!found) throw notFound();
    return {
      status: 200,
      body: { ref: full, url: `${this.url}/repos/${repo.owner}/${repo.name}/git/${full}`, object: { sha: found.sha, type: found.type, url: "" } },
    };
  }

  /** `GET /repos/{owner}/{repo}/git/commits/{sha}`: the commit object from the git server's repository (a full sha only, as GitHub's). */
  async #gitCommit(repo: FakeRepository, sha: string): Promise<Reply> {
    const commit = await readCommitObject(this.#dir(repo), sha);
    if (!commit) throw notFound();
    const api = `${this.url}/repos/${repo.owner}/${repo.name}/git`;
    return {
      status: 200,
      body: {
        sha,
        url: `${api}/commits/${sha}`,
        message: commit.message,
        tree: { sha: commit.tree, url: `${api}/trees/${commit.tree}` },
        parents: commit.parents.map((p) => ({ sha: p, url: `${api}/commits/${p}` })),
      },
    };
  }

  async #compare(repo: FakeRepository, base: string, head: string): Promise<Reply> {
    const dir = this.#dir(repo);
    const b = await this.#commit(repo, base);
    const h = await this.#commit(repo, head);
    const files = (await changedFiles(dir, b, h)) ?? [];
    const mb = await mergeBase(dir, b, h);
    const ahead = await commitsBetween(dir, b, h);
    const behind = await commitsBetween(dir, h, b);
    const status = ahead.length === 0 && behind.length === 0 ? "identical" : behind.length === 0 ? "ahead" : ahead.length === 0 ? "behind" : "diverged";
    return {
      status: 200,
      body: {
        status,
        ahead_by: ahead.length,
        behind_by: behind.length,
        total_commits: ahead.length,
        merge_base_commit: { sha: mb },
        commits: ahead.map((sha) => ({ sha })),
        files: files.slice(0, 300),
      },
    };
  }

  /** `GET /repos/{owner}/{repo}/pulls/{n}`: the fields a pull request's reader needs, the head sha from git. */
  async #pull(repo: FakeRepository, number: number): Promise<Reply> {
    const pr = this.pullRequests.get(`${repo.owner}/${repo.name}#${number}`.toLowerCase());
    if (!pr) throw notFound();
    const baseRepo = { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner }, fork: false };
    const [forkOwner, forkName] = (pr.headRepo ?? "").split("/");
    // A fork is another repository: a stable id of its own, derived from the base's.
    const headRepo = pr.headRepo ? { id: repo.id + 500_000, name: forkName, full_name: pr.headRepo, owner: { login: forkOwner }, fork: true } : baseRepo;
    const headSha = await this.#commit(repo, pr.head);
    const baseSha = await this.#commit(repo, pr.base);
    const baseRef = /^[0-9a-f]{40}$/.test(pr.base) ? repo.defaultBranch : pr.base.replace(/^refs\/heads\//, "");
    const headRef = pr.headRepo || /^[0-9a-f]{40}$/.test(pr.head) ? `pr-${number}` : pr.head.replace(/^refs\/heads\//, "");
    return {
      status: 200,
      body: {
        url: `${this.url}/repos/${repo.owner}/${repo.name}/pulls/${number}`,
        number,
        state: pr.state ?? "open",
        author_association: pr.authorAssociation ?? "NONE",
        head: { label: `${headRepo.owner.login}:${headRef}`, ref: headRef, sha: headSha, repo: headRepo },
        base: { label: `${repo.owner}:${baseRef}`, ref: baseRef, sha: baseSha, repo: baseRepo },
      },
    };
  }

  /**
   * `GET /repos/{owner}/{repo}/collaborators/{username}/permission`: `permission` is admin, write, read or none
   * (maintain reads as write, triage as read), `role_name` the role itself. Someone with no role reads a public
   * repository and nothing of a private one.
   */
  #collaboratorPermission(repo: FakeRepository, login: string): Reply {
    const role = this.collaborators.get(`${repo.owner}/${repo.name}:${login}`.toLowerCase());
    const permission = role === "maintain" ? "write" : role === "triage" ? "read" : (role ?? (repo.private ? "none" : "read"));
    return {
      status: 200,
      body: { permission, role_name: role ?? permission, user: { login, type: "User", permissions: { admin: permission === "admin", push: permission === "admin" || permission === "write", pull: permission !== "none" } } },
    };
  }

  /**
   * `GET /installation/repositories`, as GitHub documents it (an installation token, no permission needed): the
   * repositories the token itself reaches — only those it was limited to when minted, else every repository of its
   * installation — as `{ total_count, repository_selection, repositories }`, oldest first, paginated.
   */
  #installationRepositories(req: Request): Reply {
    const token = this.#installationToken(req);
    const reachable = [...this.repositories.values()]
      .filter((r) => r.installationId === token.installationId && (!token.repositories || token.repositories.has(`${r.owner}/${r.name}`.toLowerCase())))
      .sort((a, b) => a.id - b.id);
    const { items, headers } = this.#paged(req, reachable);
    return {
      status: 200,
      body: { total_count: reachable.length, repository_selection: token.repositories ? "selected" : "all", repositories: items.map((r) => this.#repoJson(r)) },
      headers,
    };
  }

  /** One page of `all` by `per_page` (up to 100, default 30) and `page`, with GitHub's `Link` header. */
  #paged<T>(req: Request, all: readonly T[]): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(100, Math.max(1, Number(req.url.searchParams.get("per_page") ?? 30) || 30));
    const page = Math.max(1, Number(req.url.searchParams.get("page") ?? 1) || 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (n: number, rel: string) => {
      const u = new URL(req.url.pathname, this.url);
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(n));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
    if (page > 1) links.push(link(1, "first"), link(page - 1, "prev"));
    return { items: all.slice((page - 1) * perPage, page * perPage), headers: links.length ? { link: links.join(", ") } : {} };
  }

  async #pullFiles(req: Request, repo: FakeRepository, number: number): Promise<Reply> {
    const pr = this.pullRequests.get(`${repo.owner}/${repo.name}#${number}`.toLowerCase());
    const base = pr?.base ?? repo.defaultBranch;
    const head = pr?.head ?? `refs/pull/${number}/head`;
    const files = ((await changedFiles(this.#dir(repo), await this.#commit(repo, base), await this.#commit(repo, head))) ?? []).slice(0, 3000);
    const { items, headers } = this.#paged(req, files);
    return { status: 200, body: items, headers };
  }

  // ---- writes ---------------------------------------------------------------------------------------------------

  /**
   * The next content-creating write is refused with a secondary-rate-limit 403 (or a 429) asking for
   * `retryAfterSeconds`, which opens a window that long: every write arriving inside it is refused the same way and
   * counted in `slowDown.writesInside`, as GitHub sees an app that does not wait.
   */
  armSlowDown(options: { retryAfterSeconds: number; status?: 403 | 429 }): void {
    this.slowDown = { ...options, status: options.status ?? 403, writesInside: 0 };
  }

  /** The armed or open slow-down window (see armSlowDown). */
  slowDown: { retryAfterSeconds: number; status: 403 | 429; opensAt?: number; closesAt?: number; writesInside: number } | undefined;

  #refuseInSlowDown(at: number): void {
    const window = this.slowDown;
    if (!window) return;
    if (window.opensAt === undefined) {
      window.opensAt = at;
      window.closesAt = at + window.retryAfterSeconds * 1000;
    } else if (at < (window.closesAt as number)) {
      window.writesInside++;
    } else {
      return;
    }
    const retryAfter = String(Math.max(1, Math.ceil(((window.closesAt as number) - at) / 1000)));
    throw window.status === 429
      ? new HttpError(429, { message: "Too Many Requests", documentation_url: DOCS, status: "429" }, { "retry-after": retryAfter })
      : new HttpError(
          403,
          { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: DOCS, status: "403" },
          { "retry-after": retryAfter },
        );
  }

  #countWrite(at: number): void {
    this.#refuseInSlowDown(at);
    const limits = this.options.secondaryLimits;
    if (limits && (this.writes.inWindow(at, 60_000) >= limits.perMinute || this.writes.inWindow(at, 3_600_000) >= limits.perHour)) {
      this.writes.record(at);
      throw new HttpError(
        403,
        { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: DOCS, status: "403" },
        { "retry-after": "60" },
      );
    }
    this.writes.record(at);
  }

  #createCheckRun(repo: FakeRepository, body: unknown): Reply {
    const errors = validateCheckRun(body, true);
    if (errors.length > 0) throw invalid(errors);
    const b = body as Record<string, unknown>;
    const run: FakeCheckRun = {
      id: this.#nextCheckRunId++,
      owner: repo.owner,
      repo: repo.name,
      name: String(b.name),
      head_sha: String(b.head_sha),
      status: "queued",
      conclusion: null,
      started_at: null,
      completed_at: null,
      details_url: null,
      external_id: null,
      output: { title: null, summary: null, text: null },
      annotations: [],
      actions: [],
      updates: [],
    };
    this.checkRuns.set(run.id, run);
    this.#apply(run, b);
    return { status: 201, body: this.#checkRunJson(run) };
  }

  #updateCheckRun(run: FakeCheckRun, body: unknown): Reply {
    const errors = validateCheckRun(body, false);
    if (errors.length > 0) throw invalid(errors);
    this.#apply(run, body as Record<string, unknown>);
    return { status: 200, body: this.#checkRunJson(run) };
  }

  #apply(run: FakeCheckRun, b: Record<string, unknown>): void {
    run.updates.push(structuredClone(b));
    if (typeof b.name === "string") run.name = b.name;
    if (typeof b.details_url === "string") run.details_url = b.details_url;
    if (typeof b.external_id === "string") run.external_id = b.external_id;
    if (typeof b.started_at === "string") run.started_at = b.started_at;
    if (typeof b.status === "string") run.status = b.status as FakeCheckRun["status"];
    if (typeof b.conclusion === "string") {
      run.conclusion = b.conclusion;
      run.status = "completed";
      run.completed_at = typeof b.completed_at === "string" ? b.completed_at : new Date().toISOString();
    } else if (run.status !== "completed") {
      run.conclusion = null;
    }
    if (run.status === "in_progress" && !run.started_at) run.started_at = new Date().toISOString();
    const out = b.output as { title?: string; summary?: string; text?: string; annotations?: FakeAnnotation[] } | undefined;
    if (out) {
      run.output = { title: out.title ?? run.output.title, summary: out.summary ?? run.output.summary, text: out.text ?? run.output.text };
      run.annotations.push(...(out.annotations ?? []));
    }
    if (Array.isArray(b.actions)) run.actions = b.actions as FakeCheckRun["actions"];
  }

  #checkRunJson(run: FakeCheckRun): Record<string, unknown> {
    return {
      id: run.id,
      name: run.name,
      head_sha: run.head_sha,
      status: run.status,
      conclusion: run.conclusion,
      started_at: run.started_at,
      completed_at: run.completed_at,
      details_url: run.details_url,
      external_id: run.external_id,
      html_url: `https://github.com/${run.owner}/${run.repo}/runs/${run.id}`,
      url: `${this.url}/repos/${run.owner}/${run.repo}/check-runs/${run.id}`,
      output: { ...run.output, annotations_count: run.annotations.length },
      app: { id: this.options.appId, slug: "buildkit-bot" },
      pull_requests: [],
    };
  }

  /**
   * GitHub's "List check runs for a Git reference": `check_name`, `status`, `app_id`, and `filter` (`latest`, the
   * default, keeps only the most recent run of each name; `all` keeps every one), newest first, paginated.
   */
  async #listCheckRunsForRef(req: Request, repo: FakeRepository, ref: string): Promise<Reply> {
    const sha = /^[0-9a-f]{40}$/.test(ref) ? ref : await this.#commit(repo, ref);
    const q = req.url.searchParams;
    const name = q.get("check_name");
    const status = q.get("status");
    const appId = q.get("app_id");
    if (appId !== null && Number(appId) !== this.options.appId) return { status: 200, body: { total_count: 0, check_runs: [] } };
    let runs = this.findCheckRuns({ owner: repo.owner, repo: repo.name, sha })
      .filter((r) => (name === null || r.name === name) && (status === null || r.status === status))
      .sort((a, b) => b.id - a.id);
    if ((q.get("filter") ?? "latest") === "latest") {
      const seen = new Set<string>();
      runs = runs.filter((r) => !seen.has(r.name) && seen.add(r.name));
    }
    const perPage = Math.min(100, Math.max(1, Number(q.get("per_page") ?? 30) || 30));
    const page = Math.max(1, Number(q.get("page") ?? 1) || 1);
    return {
      status: 200,
      body: { total_count: runs.length, check_runs: runs.slice((page - 1) * perPage, page * perPage).map((r) => this.#checkRunJson(r)) },
    };
  }

  #createStatus(repo: FakeRepository, sha: string, body: unknown): Reply {
    const errors = validateStatus(body);
    const b = body as Record<string, unknown>;
    if (errors.length === 0 && this.statusHistory(repo.owner, repo.name, sha, String(b.context)).length >= LIMITS.statusesPerContext) {
      errors.push({ resource: "Status", field: "context", code: "custom", message: "This SHA and context has reached the maximum number of statuses." });
    }
    if (errors.length > 0) throw invalid(errors);
    const status: FakeStatus = {
      id: this.#nextStatusId++,
      owner: repo.owner,
      repo: repo.name,
      sha,
      state: b.state as FakeStatus["state"],
      description: typeof b.description === "string" ? b.description : null,
      target_url: typeof b.target_url === "string" ? b.target_url : null,
      context: String(b.context),
      created_at: new Date().toISOString(),
    };
    this.statuses.push(status);
    return { status: 201, body: { ...status, url: `${this.url}/repos/${repo.owner}/${repo.name}/statuses/${sha}` } };
  }
}

/** Starts the fake GitHub REST API on 127.0.0.1 (a free port). Close it with `close()`. */
export async function startFakeGitHub<R extends GitRepoLike = GitRepoLike>(options: FakeGitHubOptions<R>): Promise<FakeGitHub<R>> {
  const fake = new FakeGitHub<R>(options);
  await fake.listen();
  return fake;
}
