import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BuildOutput, CacheEntry } from "./build-request.js";
import { InvalidOptionError } from "./errors.js";

/**
 * The rules for build options, shared by the `BuildConfig` builder and the CLI so each rule lives in one place.
 * Every function takes the option's name as its caller shows it (`platform()` or `--platform`) and throws an
 * InvalidOptionError carrying that name. Messages never contain option values that may be secret.
 */

/**
 * Splits a docker-style CSV option (`type=registry,ref=x,mode=max`) into fields; double quotes protect commas
 * (`"name=a,b"`) and are removed.
 */
export function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) {
      fields.push(current);
      current = "";
    } else current += ch;
  }
  fields.push(current);
  return fields.map((f) => f.trim()).filter((f) => f !== "");
}

/** `key=value` → [key, value]; `key` alone → [key, undefined]. */
export function splitKeyValue(field: string): [string, string | undefined] {
  const eq = field.indexOf("=");
  return eq < 0 ? [field, undefined] : [field.slice(0, eq), field.slice(eq + 1)];
}

const PLATFORM = /^[a-z0-9_-]+\/[a-z0-9_-]+(\/[a-z0-9_.-]+)?$/i;

export function isPlatform(value: string): boolean {
  return PLATFORM.test(value);
}

/** Platforms given one by one or as comma lists → a deduplicated list. */
export function parsePlatforms(values: readonly string[], option = "platform()"): string[] {
  const platforms: string[] = [];
  for (const value of values) {
    for (const platform of value.split(",").map((p) => p.trim())) {
      if (!isPlatform(platform)) throw new InvalidOptionError(option, `${option} "${platform}": expected os/arch[/variant], e.g. linux/amd64`);
      if (!platforms.includes(platform)) platforms.push(platform);
    }
  }
  return platforms;
}

/** Build-arg names: non-empty, no whitespace, no `=`. */
export function isBuildArgName(name: string): boolean {
  return name !== "" && !/[\s=]/.test(name);
}

/** Label keys: non-empty, no `=`. */
export function isLabelKey(key: string): boolean {
  return key !== "" && !key.includes("=");
}

export function checkTarget(target: string, option = "target()"): string {
  if (!/^[\w.-]+$/.test(target)) throw new InvalidOptionError(option, `${option} "${target}" is not a stage name`);
  return target;
}

// host[:port]/path[:tag][@digest]; path components lowercase.
const IMAGE_NAME =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** Image names (`ghcr.io/owner/app:1.0`) → the deduplicated list. */
export function checkImageNames(names: readonly string[], option = "tag()"): string[] {
  for (const name of names) {
    if (!IMAGE_NAME.test(name)) throw new InvalidOptionError(option, `${option} "${name}" is not a valid image name (e.g. ghcr.io/owner/app:1.0)`);
  }
  return [...new Set(names)];
}

/** Secret ids as `RUN --mount=type=secret,id=…` names them; `GIT_AUTH_*` ids are the git token's. */
export function checkSecretId(id: string, option = "secret()"): string {
  if (!/^[\w.-]+$/.test(id)) throw new InvalidOptionError(option, `${option}: secret id "${id}" may only contain letters, digits, _ . -`);
  if (id.startsWith("GIT_AUTH_")) throw new InvalidOptionError(option, `${option}: secret id "${id}" is reserved for git authentication`);
  return id;
}

/** A secret's content read from a file now; the content never appears in messages. */
export function readSecretFile(id: string, path: string, option = "secretFromFile()", shownPath = path): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidOptionError(option, `${option} ${id}: cannot read ${shownPath} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** A secret's content from an environment variable. */
export function readSecretEnv(id: string, variable: string, env: NodeJS.ProcessEnv, option = "secretFromEnv()"): Buffer {
  const value = env[variable];
  if (value === undefined) throw new InvalidOptionError(option, `${option} ${id}: environment variable ${variable} is not set`);
  return Buffer.from(value, "utf8");
}

/**
 * Checks a cache entry for a direction: `registry` needs `ref` (and `mode` min|max), `inline` is export-only and
 * takes no attrs, `local` exports to `dest=DIR` (with `mode`) and imports from `src=DIR`; relative directories
 * resolve against `cwd`. Other types (`gha`, `s3`, …) need tokens this client does not have.
 */
export function checkCacheEntry(entry: CacheEntry, direction: "import" | "export", option: string, cwd = process.cwd()): CacheEntry {
  const attrs = entry.attrs ?? {};
  if (entry.type === "registry") {
    if (!attrs.ref) throw new InvalidOptionError(option, `${option}: type=registry needs ref=<image>`);
    checkCacheMode(attrs, direction, option);
    return { type: "registry", attrs: { ...attrs } };
  }
  if (entry.type === "inline") {
    if (direction === "import") {
      throw new InvalidOptionError(option, `${option}: type=inline is export-only; import it with type=registry,ref=<image>`);
    }
    if (Object.keys(attrs).length > 0) throw new InvalidOptionError(option, `${option}: type=inline takes no other fields`);
    return { type: "inline" };
  }
  if (entry.type === "local") return { type: "local", attrs: localCacheAttrs(attrs, direction, option, cwd) };
  throw new InvalidOptionError(option, `${option}: unsupported cache type "${String(entry.type)}" (supported: registry, inline, local)`);
}

function checkCacheMode(attrs: Record<string, string>, direction: "import" | "export", option: string): void {
  if (attrs.mode !== undefined && attrs.mode !== "min" && attrs.mode !== "max") throw new InvalidOptionError(option, `${option}: mode must be min or max`);
  if (direction === "import" && attrs.mode !== undefined) throw new InvalidOptionError(option, `${option}: mode only applies to cache exports`);
}

/** `dest=DIR[,mode=min|max]` (export) or `src=DIR` (import), the directory made absolute. */
function localCacheAttrs(attrs: Record<string, string>, direction: "import" | "export", option: string, cwd: string): Record<string, string> {
  const dirKey = direction === "export" ? "dest" : "src";
  const allowed = direction === "export" ? ["dest", "mode"] : ["src"];
  for (const key of Object.keys(attrs)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(option, `${option}: type=local ${direction === "export" ? "exports take dest= and mode=" : "imports take src="} only, not ${key}=`);
    }
  }
  const dir = attrs[dirKey];
  if (!dir || dir === "-") throw new InvalidOptionError(option, `${option}: type=local needs ${dirKey}=DIR`);
  checkCacheMode(attrs, direction, option);
  const checked: Record<string, string> = { [dirKey]: resolve(cwd, dir) };
  if (attrs.mode !== undefined) checked.mode = attrs.mode;
  return checked;
}

/**
 * `type=registry,ref=REF[,mode=max]`, `type=inline`, `type=local,dest=DIR[,mode=max]` / `type=local,src=DIR`, or
 * (imports only) a bare image reference. Relative directories resolve against `cwd`.
 */
export function parseCacheEntry(value: string, direction: "import" | "export", option: string, cwd = process.cwd()): CacheEntry {
  const fields = splitCsv(value);
  if (direction === "import" && fields.length === 1 && !(fields[0] as string).includes("=")) {
    return { type: "registry", attrs: { ref: fields[0] as string } };
  }
  const attrs: Record<string, string> = {};
  let type: string | undefined;
  for (const field of fields) {
    const [key, given] = splitKeyValue(field);
    if (given === undefined) throw new InvalidOptionError(option, `${option} "${value}": expected key=value fields`);
    if (key === "type") type = given;
    else attrs[key] = given;
  }
  if (type === undefined) throw new InvalidOptionError(option, `${option} "${value}": type= is required (registry, inline or local)`);
  return checkCacheEntry({ type: type as CacheEntry["type"], attrs }, direction, option, cwd);
}

const TRUE = new Set(["", "true", "1"]);
const FALSE = new Set(["false", "0"]);

function bool(value: string | undefined, option: string, key: string): boolean {
  if (value === undefined || TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new InvalidOptionError(option, `${option}: ${key} must be true or false`);
}

/**
 * `type=image[,push=true][,name=…][,registry.insecure=true]` (`type=registry` = image with push),
 * `type=local,dest=DIR`, `type=tar,dest=FILE|-` → an output; relative `dest`s resolve against `cwd`.
 */
export function parseOutputSpec(value: string, cwd: string, option = "output()"): BuildOutput {
  const fields = new Map<string, string | undefined>();
  for (const field of splitCsv(value)) {
    const [key, given] = splitKeyValue(field);
    fields.set(key, given);
  }
  const type = fields.get("type");
  fields.delete("type");
  const allowOnly = (allowed: string[]): void => {
    for (const key of fields.keys()) {
      if (!allowed.includes(key)) throw new InvalidOptionError(option, `${option} type=${type}: unknown field "${key}"`);
    }
  };
  switch (type) {
    case "image":
    case "registry": {
      allowOnly(["push", "name", "registry.insecure"]);
      const names = (fields.get("name") ?? "").split(",").filter(Boolean);
      const push = type === "registry" || (fields.has("push") && bool(fields.get("push"), option, "push"));
      const output: BuildOutput = { type: "image", names, push };
      if (fields.has("registry.insecure") && bool(fields.get("registry.insecure"), option, "registry.insecure")) output.insecure = true;
      return output;
    }
    case "local":
    case "tar": {
      allowOnly(["dest"]);
      const dest = fields.get("dest");
      if (!dest) throw new InvalidOptionError(option, `${option} type=${type} needs dest=${type === "local" ? "DIR" : "FILE"}`);
      if (type === "local" && dest === "-") throw new InvalidOptionError(option, `${option} type=local needs a directory, not -`);
      return { type, dest: type === "tar" && dest === "-" ? "-" : resolve(cwd, dest) };
    }
    case undefined:
      throw new InvalidOptionError(option, `${option} "${value}": type= is required (image, local or tar)`);
    default:
      throw new InvalidOptionError(option, `${option}: unsupported type "${type}" (supported: image, registry, local, tar)`);
  }
}

/** How the output rules name the three options that decide the output. */
export interface OutputOptionNames {
  output: string;
  push: string;
  tag: string;
}

/**
 * The output of a build from an explicit output (if any), the push switch and the tags: tags join an image
 * output's names; without an explicit output, tags mean a local image and no tags mean no export at all.
 */
export function combineOutput(
  output: BuildOutput | undefined,
  push: boolean,
  tags: readonly string[],
  names: OutputOptionNames = { output: "output()", push: "push()", tag: "tag()" },
): BuildOutput | undefined {
  if (output === undefined) {
    if (push && tags.length === 0) throw new InvalidOptionError(names.push, `${names.push} needs at least one ${names.tag}`);
    return tags.length > 0 || push ? { type: "image", names: [...tags], push } : undefined;
  }
  if (output.type === "image") {
    const all = [...tags];
    for (const name of output.names) if (!all.includes(name)) all.push(name);
    const doPush = push || output.push;
    if (doPush && all.length === 0) throw new InvalidOptionError(names.output, `pushing needs at least one ${names.tag} (or name= in ${names.output})`);
    const combined: BuildOutput = { type: "image", names: checkImageNames(all, names.tag), push: doPush };
    if (output.insecure) combined.insecure = true;
    return combined;
  }
  if (push) throw new InvalidOptionError(names.push, `${names.push} cannot be combined with ${names.output} type=${output.type}`);
  if (tags.length > 0) throw new InvalidOptionError(names.tag, `${names.tag} only applies to image outputs, not ${names.output} type=${output.type}`);
  if (!output.dest) throw new InvalidOptionError(names.output, `${names.output} type=${output.type} needs a dest`);
  return { type: output.type, dest: output.dest };
}

/** How the repository rules name their options. */
export interface RepositoryOptionNames {
  url?: string;
  token: string;
  /** How to pass the token instead, for the message; defaults to `token`. */
  tokenHint?: string;
}

/**
 * `https://github.com/owner/repo[.git][#ref[:subdir]]`, `owner/repo`, or any http(s) git URL → the `.git` remote
 * the daemon clones. Credentials in the URL are refused: they would end up in logs and image metadata.
 */
export function parseRepositoryUrl(
  url: string,
  names: RepositoryOptionNames = { token: "the token option" },
): { remote: string; ref?: string; subdir?: string } {
  const shorthand = /^[\w.-]+\/[\w.-]+$/.test(url) ? `https://github.com/${url}` : url;
  let parsed: URL;
  try {
    parsed = new URL(shorthand);
  } catch {
    throw new InvalidOptionError(names.url, `"${url}" is not a repository URL (e.g. https://github.com/owner/repo)`);
  }
  if (parsed.username || parsed.password) {
    throw new InvalidOptionError(names.token, `the repository URL must not contain credentials; pass the token with ${names.tokenHint ?? names.token}`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new InvalidOptionError(names.url, `"${url}": only https:// (or http://) git URLs are supported`);
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  if (path.split("/").filter(Boolean).length < 2) throw new InvalidOptionError(names.url, `"${url}": expected https://host/owner/repo`);
  const remote = `${parsed.protocol}//${parsed.host}${/\.git$/i.test(path) ? path : `${path}.git`}`;
  const result: { remote: string; ref?: string; subdir?: string } = { remote };
  const fragment = decodeURIComponent(parsed.hash.replace(/^#/, ""));
  if (fragment !== "") {
    const colon = fragment.indexOf(":");
    const ref = colon < 0 ? fragment : fragment.slice(0, colon);
    const subdir = colon < 0 ? "" : fragment.slice(colon + 1);
    if (ref) result.ref = ref;
    if (subdir) result.subdir = subdir;
  }
  return result;
}

export function checkGitRef(ref: string, option = "ref"): string {
  if (ref === "" || /[#:\s]/.test(ref)) throw new InvalidOptionError(option, `${option} "${ref}" is not a valid ref`);
  return ref;
}

export function checkSubdir(subdir: string, option = "subdir"): string {
  if (subdir.split("/").includes("..")) {
    throw new InvalidOptionError(option, `${option} "${subdir}" must stay inside the repository`);
  }
  return subdir;
}
