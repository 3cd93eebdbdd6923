import { StringDecoder } from "node:string_decoder";
import type { RegistryCredential } from "../build-request.js";
import { BuildCancelledError, ConnectionError, EngineApiError, InvalidRequestError, PushRefusedError } from "../errors.js";
import { parseImageReference } from "../registry/image-reference.js";
import { Redactor } from "../redact.js";
import { engineCall, engineError, engineStream, parseJson } from "./engine-http.js";
import { PushProgressTracker, pushRefused } from "./push-progress.js";
import type { PushProgressLine } from "./push-progress.js";
import { registryAuthHeader } from "./registry-auth-header.js";

export type { PushProgressLine } from "./push-progress.js";

/** What `GET /version` answers (the fields we read). */
export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  [k: string]: unknown;
}

/** What `GET /_ping` tells, when the Engine says it. */
export interface EnginePing {
  engineVersion?: string;
  apiVersion?: string;
}

export interface PushImageOptions {
  /** Credential for the repository's registry; anonymous when absent. */
  auth?: RegistryCredential;
  signal?: AbortSignal;
  onProgress?: (line: PushProgressLine) => void;
}

/**
 * The few Docker Engine API calls the build path needs (version, info, push, tag, remove), over the Engine's unix
 * socket with API version 1.41 (Docker 20.10).
 */
export class EngineApi {
  constructor(readonly socketPath: string) {}

  /**
   * `GET /_ping`: the cheapest proof that the Engine answers (it asks nothing of containerd, unlike `/version`).
   * dockerd names its version in the `Server` header of every answer (`Docker/20.10.24+dfsg1 (linux)`).
   */
  async ping(): Promise<EnginePing> {
    const res = await engineCall(this.socketPath, { method: "GET", path: "/_ping" });
    if (res.status !== 200) throw engineError("ping", res.status, res.body);
    const server = /^Docker\/(\S+)/.exec(String(res.headers.server ?? ""))?.[1];
    const api = res.headers["api-version"];
    return { ...(server ? { engineVersion: server } : {}), ...(typeof api === "string" ? { apiVersion: api } : {}) };
  }

  async version(): Promise<EngineVersion> {
    const res = await engineCall(this.socketPath, { method: "GET", path: "/version" });
    if (res.status !== 200) throw engineError("version", res.status, res.body);
    return parseJson("version", res.body);
  }

  async info(): Promise<Record<string, unknown>> {
    const res = await engineCall(this.socketPath, { method: "GET", path: "/info" });
    if (res.status !== 200) throw engineError("info", res.status, res.body);
    return parseJson("info", res.body);
  }

  /** True on the containerd image store, where the `moby` exporter can push by itself (docs/buildkit-wire.md#engine-exporter). */
  async usesContainerdSnapshotter(): Promise<boolean> {
    const info = await this.info();
    const status = info.DriverStatus;
    if (!Array.isArray(status)) return false;
    return status.some(
      (pair) => Array.isArray(pair) && pair[0] === "driver-type" && pair[1] === "io.containerd.snapshotter.v1",
    );
  }

  /**
   * Pushes the local image `repository:tag` and returns the manifest digest the registry stored. The Engine
   * reports failures inside its HTTP 200 stream, so every line is checked.
   */
  async pushImage(repository: string, tag: string, options: PushImageOptions = {}): Promise<{ digest: string; size?: number }> {
    const ref = parseImageReference(`${repository}:${tag}`);
    if (ref.digest || repository.includes("@")) throw new InvalidRequestError(`push needs a repository and a tag, got "${repository}:${tag}"`);
    const name = `${repository}:${tag}`;
    const redactor = new Redactor(options.auth ? [options.auth.password] : []);
    const res = await engineStream(this.socketPath, {
      method: "POST",
      path: `/images/${encodeRef(repository)}/push?tag=${encodeURIComponent(tag)}`,
      headers: { "X-Registry-Auth": registryAuthHeader(options.auth) },
      signal: options.signal,
    });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const err = engineError(`push ${name}`, res.statusCode ?? 0, Buffer.concat(chunks));
      throw new EngineApiError(err.status, redactor.redact(err.message));
    }

    const tracker = new PushProgressTracker();
    const decoder = new StringDecoder("utf8");
    let pending = "";
    const take = (text: string) => {
      const line = tracker.accept(text);
      if (line && options.onProgress) options.onProgress(line);
    };
    try {
      for await (const chunk of res) {
        pending += decoder.write(chunk as Buffer);
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          take(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      }
      take(pending + decoder.end());
    } catch (err) {
      if (options.signal?.aborted) throw new BuildCancelledError(`push of ${name} cancelled`, options.signal.reason);
      throw new ConnectionError(`unix://${this.socketPath}`, `Docker Engine connection broke while pushing ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }

    const { error, digest, size } = tracker.outcome;
    if (error !== undefined) throw pushRefused(ref.registry, name, redactor.redact(error));
    if (!digest) throw new PushRefusedError(ref.registry, `pushing ${name} finished without the Engine reporting a digest`, true);
    return size === undefined ? { digest } : { digest, size };
  }

  /** Tags the local image `source` (name or ID) as `repository:tag`. */
  async tagImage(source: string, repository: string, tag: string): Promise<void> {
    const query = new URLSearchParams({ repo: repository, tag });
    const res = await engineCall(this.socketPath, { method: "POST", path: `/images/${encodeRef(source)}/tag?${query}` });
    if (res.status !== 201 && res.status !== 200) throw engineError(`tag ${source} as ${repository}:${tag}`, res.status, res.body);
  }

  /** Removes a local name (untags; deletes the image when it was its last name). A missing image is an error (404). */
  async removeImage(ref: string, options: { noprune?: boolean } = {}): Promise<void> {
    const query = options.noprune ? "?noprune=1" : "";
    const res = await engineCall(this.socketPath, { method: "DELETE", path: `/images/${encodeRef(ref)}${query}` });
    if (res.status !== 200) throw engineError(`remove image ${ref}`, res.status, res.body);
  }

  /** The local image's ID (config digest on the graphdriver store) and names. */
  async inspectImage(ref: string): Promise<{ Id: string; RepoTags: string[]; RepoDigests: string[]; [k: string]: unknown }> {
    const res = await engineCall(this.socketPath, { method: "GET", path: `/images/${encodeRef(ref)}/json` });
    if (res.status !== 200) throw engineError(`inspect image ${ref}`, res.status, res.body);
    const image = parseJson<{ Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null; [k: string]: unknown }>(`inspect image ${ref}`, res.body);
    return { ...image, RepoTags: image.RepoTags ?? [], RepoDigests: image.RepoDigests ?? [] };
  }

  async imageExists(ref: string): Promise<boolean> {
    const res = await engineCall(this.socketPath, { method: "GET", path: `/images/${encodeRef(ref)}/json` });
    if (res.status === 404) return false;
    if (res.status !== 200) throw engineError(`inspect image ${ref}`, res.status, res.body);
    return true;
  }
}

/** Image names go into the path as they are (the Engine's routes take slashes); anything else is escaped. */
function encodeRef(ref: string): string {
  return ref.split("/").map(encodeURIComponent).join("/");
}
