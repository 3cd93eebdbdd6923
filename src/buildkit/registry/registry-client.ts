import { createHash } from "node:crypto";
import { BuildCancelledError, RegistryError } from "../errors.js";
import { MANIFEST_ACCEPT } from "./manifest-media-types.js";
import { Redactor } from "../redact.js";
import { registryApiHost } from "./image-reference.js";
import { TokenCache } from "./token-cache.js";
import { parseWwwAuthenticate } from "./www-authenticate.js";
import type { AuthChallenge } from "./www-authenticate.js";

export interface RegistryClientOptions {
  /** host[:port], e.g. `ghcr.io`, `127.0.0.1:5000`; `docker.io` is served from `registry-1.docker.io`. */
  registry: string;
  credentials?: { username: string; password: string };
  /** Plain HTTP. Default: true for localhost / 127.x / [::1], else HTTPS. */
  insecure?: boolean;
  fetch?: typeof fetch;
  /** Cancels every request of this client (a `BuildCancelledError`). */
  signal?: AbortSignal;
  /** Per request, including the token fetch. Default 60 s; a timeout is a transient `RegistryError`. */
  timeoutMs?: number;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

type Action = "pull" | "push" | "delete";

/**
 * A small Docker Registry HTTP API v2 client: manifests and blob uploads, with the registries' auth dance
 * (anonymous first; on 401 follow the `WWW-Authenticate` challenge: Basic, or a Bearer token fetched from the realm
 * with the credentials, cached per scope until it expires). Errors are `RegistryError`s without credentials.
 */
export class RegistryClient {
  readonly registry: string;
  private readonly baseUrl: string;
  private readonly credentials?: { username: string; password: string };
  private readonly fetchImpl: typeof fetch;
  private readonly tokens = new TokenCache();
  private readonly redactor: Redactor;
  private readonly signal?: AbortSignal;
  private readonly timeoutMs: number;
  /** The last challenge seen, so later requests authenticate up front instead of collecting a 401 each. */
  private challenge?: AuthChallenge;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    const host = registryApiHost(options.registry);
    const insecure = options.insecure ?? isLoopback(host);
    this.baseUrl = `${insecure ? "http" : "https"}://${host}`;
    this.credentials = options.credentials;
    this.fetchImpl = options.fetch ?? fetch;
    this.redactor = new Redactor(options.credentials ? [options.credentials.password] : []);
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  async getManifest(repository: string, reference: string): Promise<Manifest> {
    const path = `/v2/${repository}/manifests/${reference}`;
    const res = await this.send("GET", path, repository, ["pull"], { headers: { Accept: MANIFEST_ACCEPT } });
    if (res.status !== 200) throw await this.errorFrom(res, "GET", path);
    const body = Buffer.from(await res.arrayBuffer());
    const computed = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (reference.startsWith("sha256:") && reference !== computed) {
      throw new RegistryError(this.registry, res.status, `${this.registry}: GET ${path}: manifest content does not match its digest`);
    }
    return {
      digest: res.headers.get("docker-content-digest") ?? computed,
      mediaType: mediaTypeOf(res, body),
      body,
    };
  }

  /** `undefined` when the manifest does not exist. */
  async headManifest(repository: string, reference: string): Promise<{ digest: string; mediaType: string } | undefined> {
    const path = `/v2/${repository}/manifests/${reference}`;
    const res = await this.send("HEAD", path, repository, ["pull"], { headers: { Accept: MANIFEST_ACCEPT } });
    await discard(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.errorFrom(res, "HEAD", path);
    const digest = res.headers.get("docker-content-digest");
    if (!digest) {
      const full = await this.getManifest(repository, reference);
      return { digest: full.digest, mediaType: full.mediaType };
    }
    return { digest, mediaType: (res.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "" };
  }

  /** Stores `manifest` under `tag` (or a digest); returns the digest the registry reports. */
  async putManifest(repository: string, tag: string, manifest: { mediaType: string; body: Buffer }): Promise<string> {
    const path = `/v2/${repository}/manifests/${tag}`;
    const res = await this.send("PUT", path, repository, ["pull", "push"], {
      headers: { "Content-Type": manifest.mediaType },
      body: manifest.body,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.errorFrom(res, "PUT", path);
    await discard(res);
    return res.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(manifest.body).digest("hex")}`;
  }

  /**
   * Whether the repository has the blob (HEAD), asked before uploading it: with the upload's scope, so one token
   * serves both. An unreadable answer counts as "no", so callers just upload it.
   */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const path = `/v2/${repository}/blobs/${digest}`;
    const res = await this.send("HEAD", path, repository, ["pull", "push"], {});
    await discard(res);
    return res.status === 200;
  }

  /**
   * Reads a small blob (an image config) whole, checked against its digest. A blob over `maxBytes` is refused
   * before its body is read, so a layer named by mistake costs no download.
   */
  async getBlob(repository: string, digest: string, maxBytes = 8 * 1024 * 1024): Promise<Buffer> {
    const path = `/v2/${repository}/blobs/${digest}`;
    const res = await this.send("GET", path, repository, ["pull"], {});
    if (res.status !== 200) throw await this.errorFrom(res, "GET", path);
    const length = Number(res.headers.get("content-length") ?? "0");
    if (length > maxBytes) {
      await discard(res);
      throw new RegistryError(this.registry, res.status, `${this.registry}: GET ${path}: blob of ${length} bytes is over the ${maxBytes}-byte limit`);
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxBytes) throw new RegistryError(this.registry, res.status, `${this.registry}: GET ${path}: blob is over the ${maxBytes}-byte limit`);
    if (`sha256:${createHash("sha256").update(body).digest("hex")}` !== digest && digest.startsWith("sha256:")) {
      throw new RegistryError(this.registry, res.status, `${this.registry}: GET ${path}: blob content does not match its digest`);
    }
    return body;
  }

  /** Uploads a blob in one request (fine for configs and small layers); returns its digest. */
  async putBlob(repository: string, data: Buffer): Promise<string> {
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const start = `/v2/${repository}/blobs/uploads/`;
    const started = await this.send("POST", start, repository, ["pull", "push"], {});
    await discard(started);
    if (started.status !== 202) throw await this.errorFrom(started, "POST", start);
    const location = started.headers.get("location");
    if (!location) throw new RegistryError(this.registry, started.status, `${this.registry}: POST ${start}: no upload location`);
    const url = new URL(location, this.baseUrl);
    url.searchParams.set("digest", digest);
    // Uploads may be handed to another host (storage redirect): our credentials stay with the registry.
    const target = url.origin === new URL(this.baseUrl).origin ? url.pathname + url.search : url.href;
    const res = await this.send("PUT", target, repository, ["pull", "push"], {
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
    if (res.status !== 201) throw await this.errorFrom(res, "PUT", `/v2/${repository}/blobs/uploads/…`);
    await discard(res);
    return digest;
  }

  /** Deletes a manifest by digest (and with it every tag pointing at it). Registries may refuse (405). */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const path = `/v2/${repository}/manifests/${digest}`;
    const res = await this.send("DELETE", path, repository, ["delete"], {});
    if (res.status !== 202 && res.status !== 200) throw await this.errorFrom(res, "DELETE", path);
    await discard(res);
  }

  private async send(
    method: string,
    path: string,
    repository: string,
    actions: Action[],
    init: { headers?: Record<string, string>; body?: Buffer },
  ): Promise<Response> {
    const scope = `repository:${repository}:${actions.join(",")}`;
    let authorization = this.challenge ? await this.authorize(this.challenge, scope, false) : undefined;
    let res = await this.fetchOnce(method, path, init, authorization);
    if (res.status !== 401) return res;

    const challenge = pickChallenge(parseWwwAuthenticate(res.headers.get("www-authenticate")));
    if (!challenge) throw await this.errorFrom(res, method, path);
    const retried = authorization !== undefined && sameChallenge(challenge, this.challenge);
    this.challenge = challenge;
    // A cached token the registry no longer accepts: fetch a fresh one once; fresh credentials that fail stay failed.
    if (retried && challenge.scheme === "basic") throw await this.errorFrom(res, method, path, "credentials rejected");
    authorization = await this.authorize(challenge, scope, true);
    if (authorization === undefined) throw await this.errorFrom(res, method, path, "authentication required and no credentials configured");
    await discard(res);
    res = await this.fetchOnce(method, path, init, authorization);
    if (res.status === 401) throw await this.errorFrom(res, method, path, this.refusalHint(res));
    return res;
  }

  private refusalHint(res: Response): string {
    if (!this.credentials) return "anonymous access refused and no credentials configured";
    const retry = pickChallenge(parseWwwAuthenticate(res.headers.get("www-authenticate")));
    if (retry?.params.error === "insufficient_scope") return "the credentials lack access to this repository";
    return "credentials rejected";
  }

  private async fetchOnce(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    authorization: string | undefined,
  ): Promise<Response> {
    const foreign = /^https?:\/\//.test(path);
    const headers: Record<string, string> = { ...init.headers };
    if (authorization && !foreign) headers.Authorization = authorization;
    const url = foreign ? path : this.baseUrl + path;
    const what = `${method} ${foreign ? new URL(path).origin + new URL(path).pathname : path}`;
    return this.guarded(what, (signal) =>
      this.fetchImpl(url, { method, headers, body: init.body ? new Uint8Array(init.body) : undefined, signal }),
    );
  }

  private async authorize(challenge: AuthChallenge, scope: string, fresh: boolean): Promise<string | undefined> {
    if (challenge.scheme === "basic") {
      if (!this.credentials) return undefined;
      return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`;
    }
    if (challenge.scheme !== "bearer") return undefined;
    const realm = challenge.params.realm;
    if (!realm) return undefined;
    const service = challenge.params.service ?? "";
    const key = `${realm}\n${service}\n${scope}`;
    if (fresh) this.tokens.delete(key);
    const cached = this.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(realm, service, scope, key);
    return `Bearer ${token}`;
  }

  private async fetchToken(realm: string, service: string, scope: string, key: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(this.registry, 401, `${this.registry}: invalid token realm in auth challenge`);
    }
    if (service) url.searchParams.set("service", service);
    url.searchParams.set("scope", scope);
    const headers: Record<string, string> = {};
    if (this.credentials) {
      headers.Authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`;
    }
    const where = `token server ${url.origin}${url.pathname}`;
    const res = await this.guarded(where, (signal) => this.fetchImpl(url, { headers, signal }));
    if (res.status !== 200) throw await this.errorFrom(res, "GET", `(${where})`, res.status === 401 ? "credentials rejected" : undefined);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      throw new RegistryError(this.registry, res.status, `${this.registry}: ${where} answered with invalid JSON`, { cause: err });
    }
    const token = typeof body.token === "string" && body.token ? body.token : body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(this.registry, res.status, `${this.registry}: ${where} answered without a token`);
    }
    this.tokens.set(key, token, typeof body.expires_in === "number" ? body.expires_in : undefined);
    return token;
  }

  /** Runs one fetch under the client's signal and the per-request timeout; network failures become RegistryErrors. */
  private async guarded(what: string, call: (signal: AbortSignal) => Promise<Response>): Promise<Response> {
    if (this.signal?.aborted) throw new BuildCancelledError("registry request cancelled", this.signal.reason);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    try {
      return await call(signal);
    } catch (err) {
      if (this.signal?.aborted) throw new BuildCancelledError("registry request cancelled", this.signal.reason);
      const detail = timeout.aborted ? `no answer within ${this.timeoutMs} ms` : err instanceof Error ? describeNetworkError(err) : String(err);
      throw new RegistryError(this.registry, undefined, this.redact(`${this.registry}: ${what}: ${detail}`), { cause: err });
    }
  }

  private async errorFrom(res: Response, method: string, path: string, hint?: string): Promise<RegistryError> {
    let registryCode: string | undefined;
    let registryMessage: string | undefined;
    try {
      const text = await res.text();
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }>; details?: unknown };
      const first = parsed.errors?.[0];
      if (first) {
        registryCode = typeof first.code === "string" ? first.code : undefined;
        registryMessage = typeof first.message === "string" ? this.redact(first.message) : undefined;
      }
    } catch {
      // Not JSON (or no body, as for HEAD): the status says it all.
    }
    const parts = [`${res.status}${res.statusText ? ` ${res.statusText}` : ""}`];
    if (registryCode || registryMessage) parts.push([registryCode, registryMessage].filter(Boolean).join(": "));
    if (hint) parts.push(hint);
    const message = this.redact(`${this.registry}: ${method} ${path} failed: ${parts.join(" — ")}`);
    return new RegistryError(this.registry, res.status, message, { registryCode, registryMessage });
  }

  private redact(text: string): string {
    return this.redactor.redact(text);
  }
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "");
  return name === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(name) || name === "[::1]";
}

function pickChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}

function sameChallenge(a: AuthChallenge, b: AuthChallenge | undefined): boolean {
  return b !== undefined && a.scheme === b.scheme && a.params.realm === b.params.realm && a.params.service === b.params.service;
}

function mediaTypeOf(res: Response, body: Buffer): string {
  const header = (res.headers.get("content-type") ?? "").split(";")[0]?.trim();
  if (header && header !== "application/json" && header !== "text/plain") return header;
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { mediaType?: unknown };
    if (typeof parsed.mediaType === "string") return parsed.mediaType;
  } catch {
    // fall through to the header
  }
  return header ?? "";
}

function describeNetworkError(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${err.message}: ${cause.message}`;
  return err.message;
}

async function discard(res: Response): Promise<void> {
  if (res.bodyUsed || !res.body) return;
  try {
    await res.body.cancel();
  } catch {
    // already closed
  }
}
