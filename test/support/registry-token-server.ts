/**
 * A small token server for the Docker registry token auth flow, for tests: a registry configured with
 * `auth.token` answers 401 `Bearer realm=<this server>,service=…,scope=…`; clients fetch a JWT here (a GET with
 * basic auth or anonymous, or a POST with an OAuth2 password-grant form) and retry with `Authorization: Bearer <jwt>`.
 *
 * Tokens are RS256 JWTs whose header carries the signing certificate in `x5c`; Distribution 2.8 accepts them when
 * that certificate is in its `rootcertbundle` (the leaf may be the root itself). The configured user is granted the
 * requested `pull`/`push` actions on any repository, each of `users` only under its own namespaces; anonymous clients get a token with no access (so the registry
 * answers 401 insufficient_scope, as public registries do); wrong credentials get 401 here.
 */
import { execFile } from "node:child_process";
import { createPrivateKey, randomUUID, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TokenServerOptions {
  /** Where the key and certificate are written. */
  dir: string;
  username: string;
  password: string;
  /** `aud` of the tokens and the registry's `auth.token.service`. Default `buildkit-bot-test-registry`. */
  service?: string;
  /** `iss` of the tokens and the registry's `auth.token.issuer`. Default `buildkit-bot-test-token-issuer`. */
  issuer?: string;
  /** Token lifetime in seconds, also returned as `expires_in`. Default 300. */
  expiresIn?: number;
  /**
   * More users, each granted pull/push only on repositories under its namespaces (paths after the host, ending in
   * `/`, e.g. `acme/`): a per-tenant registry. A scope outside is answered with a token that grants nothing for it,
   * so the registry refuses the request (401 insufficient_scope), as a real scoped registry does.
   */
  users?: ReadonlyArray<{ username: string; password: string; namespaces: readonly string[] }>;
}

export interface TokenRequestRecord {
  /** GET (query and basic auth) or POST (OAuth2 form). */
  method: string;
  user?: string;
  scopes: string[];
  status: number;
  /** What the token granted, as `repository:<name>:<actions>` (empty for a refused or anonymous request). */
  granted?: string[];
}

export interface TokenServer {
  /** `http://127.0.0.1:<port>/token` */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate file for the registry's `auth.token.rootcertbundle`. */
  rootCertBundle: string;
  /** Every token request, in order. */
  requests: TokenRequestRecord[];
  /** What `startRegistry({ tokenAuth })` (test/support/stack/registry.ts) needs to trust this server. */
  registryTokenAuth(): { realm: string; service: string; issuer: string; rootCertBundle: string };
  close(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const GRANTABLE = new Set(["pull", "push"]);

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const service = opts.service ?? "buildkit-bot-test-registry";
  const issuer = opts.issuer ?? "buildkit-bot-test-token-issuer";
  const expiresIn = opts.expiresIn ?? 300;
  const keyFile = path.join(opts.dir, "token-signing-key.pem");
  const certFile = path.join(opts.dir, "token-signing-cert.pem");
  await run("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
    "-subj", "/CN=buildkit-bot test token issuer",
    "-keyout", keyFile, "-out", certFile,
  ]);
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = pemBody(await readFile(certFile, "utf8"));
  const requests: TokenRequestRecord[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => answer(req, Buffer.concat(chunks).toString("utf8"), res));
  });
  const answer = (req: http.IncomingMessage, body: string, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://token.invalid");
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== "/token") return reply(404, { errors: [{ code: "NOT_FOUND", message: "unknown path" }] });
    // GET: parameters in the query, the user in basic auth. POST (the OAuth2 password grant that containerd and
    // BuildKit try first): the same parameters and the user in a form body.
    const params = req.method === "POST" ? new URLSearchParams(body) : url.searchParams;
    const scopes = params.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    const user =
      req.method === "POST"
        ? params.get("grant_type") === "password"
          ? { username: params.get("username") ?? "", password: params.get("password") ?? "" }
          : undefined
        : basicUser(req.headers.authorization);
    const scoped = user ? opts.users?.find((u) => u.username === user.username) : undefined;
    const known = user && ((user.username === opts.username && user.password === opts.password) || (scoped !== undefined && scoped.password === user.password));
    if (user && !known) {
      requests.push({ method: req.method ?? "GET", user: user.username, scopes, status: 401 });
      return reply(401, { errors: [{ code: "UNAUTHORIZED", message: "invalid username or password" }] }, {
        "WWW-Authenticate": 'Basic realm="buildkit-bot test token server"',
      });
    }
    if (params.get("service") !== service) {
      requests.push({ method: req.method ?? "GET", user: user?.username, scopes, status: 400 });
      return reply(400, { errors: [{ code: "DENIED", message: `unknown service` }] });
    }
    const access = user ? grant(scopes).filter((a) => !scoped || scoped.namespaces.some((ns) => a.name.startsWith(ns))) : [];
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(key, certDer, {
      iss: issuer,
      sub: user?.username ?? "",
      aud: service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    });
    requests.push({ method: req.method ?? "GET", user: user?.username, scopes, status: 200, granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`) });
    reply(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const realm = `http://127.0.0.1:${port}/token`;
  return {
    realm,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    registryTokenAuth: () => ({ realm, service, issuer, rootCertBundle: certFile }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `repository:owner/app:pull,push` → granted access entries (only pull/push, only repositories). */
function grant(scopes: string[]): Access[] {
  const access: Access[] = [];
  for (const scope of scopes) {
    const first = scope.indexOf(":");
    const last = scope.lastIndexOf(":");
    if (first < 0 || last <= first) continue;
    const type = scope.slice(0, first);
    const name = scope.slice(first + 1, last);
    const actions = scope.slice(last + 1).split(",").filter((a) => GRANTABLE.has(a));
    if (type === "repository" && actions.length > 0) access.push({ type, name, actions });
  }
  return access;
}

function basicUser(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? "");
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function signJwt(key: KeyObject, certDerBase64: string, claims: Record<string, unknown>): string {
  const header = { typ: "JWT", alg: "RS256", x5c: [certDerBase64] };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign("sha256", Buffer.from(signingInput), key);
  return `${signingInput}.${base64url(signature)}`;
}
