import { statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import {
  checkCacheEntry,
  checkGitRef,
  checkImageNames,
  checkSecretId,
  checkSubdir,
  checkTarget,
  combineOutput,
  isBuildArgName,
  isLabelKey,
  parseCacheEntry,
  parseOutputSpec,
  parsePlatforms,
  parseRepositoryUrl,
  readSecretEnv,
  readSecretFile,
} from "./build-options.js";
import type { AttestationRequest, BuildContext, BuildOutput, BuildRequest, CacheEntry, RegistryCredential } from "./build-request.js";
import { InvalidOptionError } from "./errors.js";

export interface GitHubSourceOptions {
  /** Branch, tag, full ref or commit sha; default: a `#ref` in the URL, else `HEAD` (the default branch). */
  ref?: string;
  /** Repository subdirectory used as the context; default: a `#ref:subdir` in the URL. */
  subdir?: string;
  /** Token for private repositories; handed to the daemon's git fetch only as a session secret. */
  token?: string;
}

type SecretSource = { value: string | Buffer } | { file: string } | { env: string };

/**
 * Builds a validated BuildRequest step by step:
 *
 * ```ts
 * const request = BuildConfig.local("./app").tag("ghcr.io/acme/app:1.0").platform("linux/amd64").push().build();
 * ```
 *
 * Each method checks its own argument at once (InvalidOptionError naming the method); `build()` checks how the
 * options fit together, reads secret files and variables, and returns a fresh request every time.
 */
export class BuildConfig {
  private dockerfilePath: string | undefined;
  private readonly args: Record<string, string> = {};
  private stage: string | undefined;
  private readonly labels: Record<string, string> = {};
  private platforms: string[] = [];
  private readonly secrets = new Map<string, SecretSource>();
  private readonly imports: CacheEntry[] = [];
  private readonly exports: CacheEntry[] = [];
  private cacheOff = false;
  private alwaysPull = false;
  private readonly attestations: AttestationRequest = {};
  private tags: string[] = [];
  private pushing = false;
  private explicitOutput: BuildOutput | undefined;
  private readonly credentials: RegistryCredential[] = [];

  private constructor(
    private readonly source: BuildContext,
    private readonly gitToken: string | undefined,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A directory on this machine as the context (relative paths resolve against the current directory). */
  static local(dir: string, options: { env?: NodeJS.ProcessEnv } = {}): BuildConfig {
    if (!dir) throw new InvalidOptionError("local()", "local() needs a context directory");
    return new BuildConfig({ type: "local", dir: resolve(dir) }, undefined, options.env ?? process.env);
  }

  /**
   * A GitHub repository (`https://github.com/owner/repo`, `owner/repo`) or any http(s) git remote, cloned by the
   * daemon. `#ref[:subdir]` in the URL is understood; `options` override it.
   */
  static github(url: string, options: GitHubSourceOptions & { env?: NodeJS.ProcessEnv } = {}): BuildConfig {
    const parsed = parseRepositoryUrl(url, { url: "github()", token: "github()", tokenHint: "github(url, { token })" });
    const context: BuildContext = { type: "git", remote: parsed.remote, ref: checkGitRef(options.ref ?? parsed.ref ?? "HEAD", "github() ref") };
    const subdir = options.subdir ?? parsed.subdir;
    if (subdir !== undefined && subdir !== "") context.subdir = checkSubdir(subdir, "github() subdir");
    if (options.token !== undefined && options.token === "") throw new InvalidOptionError("github()", "github(): token must not be empty");
    return new BuildConfig(context, options.token, options.env ?? process.env);
  }

  /**
   * The Dockerfile. Local builds: a path like `docker build -f` takes (relative to the current directory; it may
   * lie outside the context). Git builds: a path inside the context (the subdir, if any).
   */
  dockerfile(path: string): this {
    if (!path) throw new InvalidOptionError("dockerfile()", "dockerfile() needs a path");
    this.dockerfilePath = path;
    return this;
  }

  buildArg(name: string, value: string): this {
    if (!isBuildArgName(name)) throw new InvalidOptionError("buildArg()", `buildArg() "${name}": expected a name without spaces or =`);
    this.args[name] = value;
    return this;
  }

  /** Builds only up to this stage. */
  target(stage: string): this {
    this.stage = checkTarget(stage, "target()");
    return this;
  }

  label(key: string, value: string): this {
    if (!isLabelKey(key)) throw new InvalidOptionError("label()", `label() "${key}": expected a key without =`);
    this.labels[key] = value;
    return this;
  }

  /** Target platforms, each `os/arch[/variant]` or a comma list of them; adds to earlier calls. */
  platform(...platforms: string[]): this {
    this.platforms = parsePlatforms([...this.platforms, ...platforms], "platform()");
    return this;
  }

  /** A build secret for `RUN --mount=type=secret,id=ID`. */
  secret(id: string, value: string | Buffer): this {
    this.secrets.set(checkSecretId(id, "secret()"), { value });
    return this;
  }

  /** A build secret read from a file when `build()` runs. */
  secretFromFile(id: string, path: string): this {
    this.secrets.set(checkSecretId(id, "secretFromFile()"), { file: resolve(path) });
    return this;
  }

  /** A build secret read from an environment variable when `build()` runs. */
  secretFromEnv(id: string, variable: string): this {
    if (!variable) throw new InvalidOptionError("secretFromEnv()", "secretFromEnv() needs a variable name");
    this.secrets.set(checkSecretId(id, "secretFromEnv()"), { env: variable });
    return this;
  }

  /** A cache to import: `{ type: "registry", attrs: { ref } }`, `"type=registry,ref=REF"` or a bare image reference. */
  cacheFrom(entry: CacheEntry | string): this {
    this.imports.push(typeof entry === "string" ? parseCacheEntry(entry, "import", "cacheFrom()") : checkCacheEntry(entry, "import", "cacheFrom()"));
    return this;
  }

  /** A cache to export: `{ type: "inline" }`, `"type=registry,ref=REF,mode=max"`, … */
  cacheTo(entry: CacheEntry | string): this {
    this.exports.push(typeof entry === "string" ? parseCacheEntry(entry, "export", "cacheTo()") : checkCacheEntry(entry, "export", "cacheTo()"));
    return this;
  }

  noCache(on = true): this {
    this.cacheOff = on;
    return this;
  }

  /** Always pull base images instead of using a local or cached copy. */
  pull(on = true): this {
    this.alwaysPull = on;
    return this;
  }

  /** Image names; with no explicit output, tags mean an image output. */
  /** A SLSA provenance attestation pushed with the image (`--provenance mode=min|max`); needs BuildKit v0.11+. */
  provenance(mode: "min" | "max"): this {
    if (mode !== "min" && mode !== "max") throw new InvalidOptionError("provenance()", `provenance() "${String(mode)}": expected min or max`);
    this.attestations.provenance = mode;
    return this;
  }

  /** An SBOM attestation by BuildKit's default scanner image, which the daemon must be able to pull. */
  sbom(on = true): this {
    if (on) this.attestations.sbom = true;
    else delete this.attestations.sbom;
    return this;
  }

  tag(...names: string[]): this {
    this.tags = checkImageNames([...this.tags, ...names], "tag()");
    return this;
  }

  /** Push the image to its registry (needs at least one tag). */
  push(on = true): this {
    this.pushing = on;
    return this;
  }

  /**
   * Where the result goes: `{ type: "local", dest }`, `{ type: "tar", dest }`, `{ type: "image", names, push }`, or
   * the CLI's `--output` syntax (`"type=local,dest=out"`, `"type=image,push=true"`); relative dests resolve against
   * the current directory.
   */
  output(output: BuildOutput | string): this {
    this.explicitOutput = typeof output === "string" ? parseOutputSpec(output, process.cwd(), "output()") : checkOutput(output);
    return this;
  }

  /** Credentials for a registry the build pulls from or pushes to (`host[:port]` as in image names). */
  registryAuth(host: string, username: string, password: string): this {
    if (!host || /[\s/]/.test(host)) throw new InvalidOptionError("registryAuth()", `registryAuth(): "${host}" is not a registry host[:port]`);
    if (!username || !password) throw new InvalidOptionError("registryAuth()", `registryAuth() ${host}: username and password must not be empty`);
    const existing = this.credentials.findIndex((c) => c.host.toLowerCase() === host.toLowerCase());
    if (existing >= 0) this.credentials.splice(existing, 1);
    this.credentials.push({ host, username, password });
    return this;
  }

  /** The validated request, ready for `BuildKitClient.solve`. */
  build(): BuildRequest {
    const request: BuildRequest = { context: { ...this.source } };
    if (this.dockerfilePath !== undefined) this.applyDockerfile(request);
    else if (request.context.type === "local") requireDirectory(request.context.dir);
    if (this.gitToken !== undefined) request.gitAuthToken = this.gitToken;
    if (Object.keys(this.args).length > 0) request.buildArgs = { ...this.args };
    if (this.stage !== undefined) request.target = this.stage;
    if (Object.keys(this.labels).length > 0) request.labels = { ...this.labels };
    if (this.platforms.length > 0) request.platforms = [...this.platforms];
    if (this.secrets.size > 0) request.secrets = this.readSecrets();
    if (this.imports.length > 0) request.cacheImports = this.imports.map(copyEntry);
    if (this.exports.length > 0) request.cacheExports = this.exports.map(copyEntry);
    if (this.cacheOff) request.noCache = true;
    if (this.alwaysPull) request.pull = true;
    if (this.attestations.provenance || this.attestations.sbom) request.attestations = { ...this.attestations };
    const output = combineOutput(this.explicitOutput, this.pushing, this.tags);
    if (output) request.output = output;
    if (this.credentials.length > 0) request.registryAuth = this.credentials.map((c) => ({ ...c }));
    return request;
  }

  private applyDockerfile(request: BuildRequest): void {
    const path = this.dockerfilePath as string;
    if (request.context.type === "git") {
      request.dockerfile = path;
      return;
    }
    requireDirectory(request.context.dir);
    const absolute = resolve(path);
    if (!statSync(absolute, { throwIfNoEntry: false })?.isFile()) throw new InvalidOptionError("dockerfile()", `dockerfile() ${path}: no such file`);
    request.context.dockerfileDir = dirname(absolute);
    request.dockerfile = basename(absolute);
  }

  private readSecrets(): Record<string, string | Buffer> {
    const secrets: Record<string, string | Buffer> = {};
    for (const [id, source] of this.secrets) {
      if ("value" in source) secrets[id] = source.value;
      else if ("file" in source) secrets[id] = readSecretFile(id, source.file, "secretFromFile()");
      else secrets[id] = readSecretEnv(id, source.env, this.env, "secretFromEnv()");
    }
    return secrets;
  }
}

function requireDirectory(dir: string): void {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidOptionError("local()", `local() ${dir}: not a directory`);
}

function checkOutput(output: BuildOutput): BuildOutput {
  switch (output.type) {
    case "image": {
      const checked: BuildOutput = { type: "image", names: checkImageNames(output.names, "output()"), push: output.push };
      if (output.insecure) checked.insecure = true;
      return checked;
    }
    case "local":
    case "tar":
      if (!output.dest) throw new InvalidOptionError("output()", `output() type=${output.type} needs a dest`);
      if (output.type === "local" && output.dest === "-") throw new InvalidOptionError("output()", "output() type=local needs a directory, not -");
      return { type: output.type, dest: output.type === "tar" && output.dest === "-" ? "-" : resolve(output.dest) };
    default:
      throw new InvalidOptionError("output()", `output(): unsupported type "${(output as { type: string }).type}" (supported: image, local, tar)`);
  }
}

function copyEntry(entry: CacheEntry): CacheEntry {
  return entry.attrs ? { type: entry.type, attrs: { ...entry.attrs } } : { type: entry.type };
}
