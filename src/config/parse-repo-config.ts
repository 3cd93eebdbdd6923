import { LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import { configLimitViolations } from "./check-config-limits.js";
import { ConfigError, REPO_CONFIG_PATH } from "./config-error.js";
import type { ConfigIssue } from "./config-error.js";
import { DEFAULT_CONFIG_LIMITS } from "./config-limits.js";
import type { ConfigLimits } from "./config-limits.js";
import { repoConfigShapeValidator } from "./config-schema.js";
import type { SchemaError } from "./config-schema.js";
import { globExpansionCount, globProblem, refGlobProblem } from "./path-filter.js";
import type { CacheSetting, ImageConfig, RepoConfig } from "./repo-config.js";
import { parseTagTemplate, TagTemplateError } from "./tags.js";
import { aliasBombAt, deepestNode, nestingEstimateExceeds } from "./yaml-limits.js";
import { formatKeyPath, pointerToKeyPath, YamlLocator } from "./yaml-locate.js";
import type { KeyPath } from "./yaml-locate.js";

/** The file as YAML maps it, after schema validation (snake_case keys, as users write them). */
interface RawImage {
  name: string;
  context?: string;
  dockerfile?: string;
  target?: string;
  platforms?: string[];
  build_args?: Record<string, string | number | boolean>;
  labels?: Record<string, string | number | boolean>;
  paths?: string[];
  tags?: string[];
  push?: { branches?: string[]; tags?: string[]; pull_requests?: boolean };
  cache?: boolean | { ref: string };
  repository?: string;
  secrets?: string[];
  checks?: { fail_on?: "none" | "warning" };
  merge_queue?: { reuse?: boolean };
  provenance?: { pushes?: "max" | "min" | "none"; pull_requests?: "min" | "none" };
  sbom?: boolean;
}

interface RawConfig {
  images: RawImage[];
}

/**
 * Parses and validates `.github/buildkit-bot.yml`. Throws a {@link ConfigError} listing every problem found,
 * each with the line it is on: YAML syntax first (nothing else can be checked then), then the JSON Schema,
 * then what a schema cannot say (unique names, globs, template variables, paths leaving the repository).
 *
 * The file is untrusted and one app serves every installation, so `limits` (file size, nesting, aliases, counts
 * and lengths) are each checked before the work they bound, and exceeding one is a config error like any other.
 */
export function parseRepoConfig(text: string, opts: { path?: string; limits?: ConfigLimits } = {}): RepoConfig {
  const path = opts.path ?? REPO_CONFIG_PATH;
  const limits = opts.limits ?? DEFAULT_CONFIG_LIMITS;
  const fail = (line: number, column: number, message: string): never => {
    throw new ConfigError([{ path, line, column, message }]);
  };

  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > limits.fileBytes) {
    fail(1, 1, `the file is ${bytes} bytes, over the limit of ${limits.fileBytes} bytes`);
  }
  const nesting = (line: number, column: number): never =>
    fail(line, column, `YAML nesting is deeper than the limit of ${limits.nestingDepth} levels`);
  // The estimate is within a factor of two of the real depth; the exact check follows the parse.
  const tooDeep = nestingEstimateExceeds(text, 2 * limits.nestingDepth + 2);
  if (tooDeep !== undefined) {
    let line = 1;
    let lineStart = 0;
    for (let nl = text.indexOf("\n"); nl >= 0 && nl < tooDeep; nl = text.indexOf("\n", nl + 1)) {
      line++;
      lineStart = nl + 1;
    }
    nesting(line, tooDeep - lineStart + 1);
  }

  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  } catch (err) {
    return fail(1, 1, `YAML could not be parsed: ${yamlMessage((err as Error).message)}`);
  }
  const locator = new YamlLocator(doc, lineCounter);
  const issue = (at: { line: number; column: number }, message: string): ConfigIssue => ({
    path,
    line: at.line,
    column: at.column,
    message,
  });

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const at = pos ? { line: pos.line, column: pos.col } : locator.position(e.pos[0]);
        return issue(at, `YAML syntax error: ${yamlMessage(e.message)}`);
      }),
    );
  }
  const deep = deepestNode(doc, limits.nestingDepth);
  if (deep) {
    const at = locator.position(deep.range?.[0] ?? 0);
    nesting(at.line, at.column);
  }
  const aliasMessage = `YAML aliases expand to more than the limit of ${limits.aliases} (is this an alias bomb?)`;
  const bomb = aliasBombAt(doc, limits.aliases);
  if (bomb) {
    const at = locator.position(bomb.range?.[0] ?? 0);
    fail(at.line, at.column, aliasMessage);
  }
  let data: unknown;
  try {
    // aliasBombAt is the limit; the library's own count (which also counts each anchor once, and multiplies
    // nested counts) is only a backstop, set loose enough never to refuse what aliasBombAt accepted.
    data = doc.toJS({ maxAliasCount: (limits.aliases + 1) ** 2 });
  } catch (err) {
    // The checks above keep the library from throwing; if it still does, it is this file's fault all the same.
    if (err instanceof ReferenceError && /alias/i.test(err.message)) fail(1, 1, aliasMessage);
    return fail(1, 1, `YAML could not be converted: ${yamlMessage((err as Error).message)}`);
  }
  if (data === null || data === undefined) {
    throw new ConfigError([issue({ line: 1, column: 1 }, "the file is empty: it needs an `images:` list")]);
  }
  const overLimit = configLimitViolations(data, limits);
  if (overLimit.length > 0) {
    throw new ConfigError(sortIssues(overLimit.map((v) => issue(locator.locate(v.keyPath, v.keyOf), v.message))));
  }

  const validate = repoConfigShapeValidator();
  const issues: ConfigIssue[] = [];
  // Images the schema rejects are not checked further; the others are, so one round of fixes covers them all.
  const invalidImages = new Set<number>();
  let shapeValid = true;
  if (!validate(data)) {
    const errors = validate.errors ?? [];
    issues.push(...schemaIssues(errors, locator).map((i) => issue(i.at, i.message)));
    for (const e of errors) {
      const m = /^\/images\/(\d+)(\/|$)/.exec(e.instancePath);
      if (m) invalidImages.add(Number(m[1]));
      else shapeValid = false;
    }
  }
  if (!shapeValid) throw new ConfigError(sortIssues(dedupe(issues)));

  const raw = data as RawConfig;
  const report = (keyPath: KeyPath, message: string): void => {
    issues.push(issue(locator.locate(keyPath), `${formatKeyPath(keyPath)}: ${message}`));
  };
  const firstUse = new Map<string, number>();
  const images: ImageConfig[] = [];
  raw.images.forEach((img, index) => {
    if (invalidImages.has(index)) return;
    const resolved = resolveImage(img, ["images", index], locator.locate(["images", index]).line, report, limits);
    const refLines = {
      ...(img.repository !== undefined ? { repository: locator.locate(["images", index, "repository"]).line } : {}),
      ...(typeof img.cache === "object" ? { cacheRef: locator.locate(["images", index, "cache", "ref"]).line } : {}),
    };
    const withSecrets =
      img.secrets !== undefined && img.secrets.length > 0
        ? { ...resolved, secrets: [...img.secrets], secretLines: img.secrets.map((_, i) => locator.locate(["images", index, "secrets", i]).line) }
        : resolved;
    images.push(Object.keys(refLines).length > 0 ? { ...withSecrets, refLines } : withSecrets);
    const previous = firstUse.get(img.name);
    if (previous === undefined) {
      firstUse.set(img.name, index);
    } else {
      const line = locator.locate(["images", previous, "name"]).line;
      report(
        ["images", index, "name"],
        `"${img.name}" is already the name of images[${previous}] (line ${line}); image names must be unique`,
      );
    }
  });
  if (issues.length > 0) throw new ConfigError(sortIssues(dedupe(issues)));
  return { fromFile: true, images };
}

function resolveImage(
  img: RawImage,
  at: KeyPath,
  line: number,
  report: (keyPath: KeyPath, message: string) => void,
  limits: ConfigLimits,
): ImageConfig {
  const context = repoRelativePath(img.context ?? ".", [...at, "context"], report);
  const defaultDockerfile = context === "" ? "Dockerfile" : `${context}/Dockerfile`;
  const dockerfile =
    img.dockerfile === undefined
      ? defaultDockerfile
      : repoRelativePath(img.dockerfile, [...at, "dockerfile"], report) || defaultDockerfile;

  const platforms = img.platforms ?? [];
  platforms.forEach((p, i) => {
    if (platforms.indexOf(p) !== i) report([...at, "platforms", i], `"${p}" is listed twice`);
  });
  globList(img.paths ?? [], [...at, "paths"], globProblem, limits.braceExpansions, report);
  (img.tags ?? []).forEach((t, i) => {
    try {
      parseTagTemplate(t);
    } catch (err) {
      if (!(err instanceof TagTemplateError)) throw err;
      report([...at, "tags", i], err.message);
    }
  });
  for (const kind of ["branches", "tags"] as const) {
    globList(img.push?.[kind] ?? [], [...at, "push", kind], refGlobProblem, limits.braceExpansions, report);
  }
  const buildArgs: Record<string, string> = {};
  for (const [k, v] of Object.entries(img.build_args ?? {})) buildArgs[k] = String(v);

  return {
    name: img.name,
    context,
    dockerfile,
    ...(img.target !== undefined ? { target: img.target } : {}),
    platforms,
    buildArgs,
    ...(img.labels !== undefined && Object.keys(img.labels).length > 0 ? { labels: Object.fromEntries(Object.entries(img.labels).map(([k, v]) => [k, String(v)])) } : {}),
    paths: img.paths ?? [],
    ...(img.tags !== undefined ? { tags: img.tags } : {}),
    push: {
      ...(img.push?.branches !== undefined ? { branches: img.push.branches } : {}),
      ...(img.push?.tags !== undefined ? { tags: img.push.tags } : {}),
      pullRequests: img.push?.pull_requests ?? false,
    },
    cache: cacheSetting(img.cache, [...at, "cache", "ref"], report),
    ...(img.repository !== undefined ? { repository: img.repository } : {}),
    ...(img.checks?.fail_on === "warning" ? { checksFailOn: "warning" as const } : {}),
    ...(img.merge_queue?.reuse === false ? { mergeQueueReuse: false as const } : {}),
    ...provenanceSetting(img.provenance),
    ...(img.sbom === true ? { sbom: true as const } : {}),
    line,
  };
}

function provenanceSetting(raw: RawImage["provenance"]): Pick<ImageConfig, "provenance"> {
  if (raw?.pushes === undefined && raw?.pull_requests === undefined) return {};
  return { provenance: { ...(raw.pushes !== undefined ? { pushes: raw.pushes } : {}), ...(raw.pull_requests !== undefined ? { pullRequests: raw.pull_requests } : {}) } };
}

/** Reports bad globs of one list, and the list as a whole expanding (through braces) past `maxExpansions` globs. */
function globList(
  globs: readonly string[],
  at: KeyPath,
  problemOf: (glob: string, maxExpansions: number) => string | undefined,
  maxExpansions: number,
  report: (keyPath: KeyPath, message: string) => void,
): void {
  let expanded = 0;
  let overReported = false;
  globs.forEach((g, i) => {
    const problem = problemOf(g, maxExpansions);
    if (problem) {
      report([...at, i], `"${g}" ${problem}`);
      return;
    }
    expanded += globExpansionCount(g, maxExpansions);
    if (expanded > maxExpansions && !overReported) {
      overReported = true;
      report(
        [...at, i],
        `"${g}": with its {…} braces the list expands to more than ${maxExpansions} globs, over the limit of ${maxExpansions} (braceExpansions)`,
      );
    }
  });
}

const IMAGE_REFERENCE = /^[a-z0-9]([a-z0-9._/-]|:[0-9]+\/)*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

function cacheSetting(
  cache: RawImage["cache"],
  at: KeyPath,
  report: (keyPath: KeyPath, message: string) => void,
): CacheSetting {
  if (cache === false) return { kind: "off" };
  if (cache === undefined || cache === true) return { kind: "per-ref" };
  if (!IMAGE_REFERENCE.test(cache.ref)) {
    report(at, `"${cache.ref}" is not a valid registry reference (expected host[:port]/path[:tag], lowercase)`);
    return { kind: "off" };
  }
  const lastSegment = cache.ref.slice(cache.ref.lastIndexOf("/") + 1);
  return lastSegment.includes(":") ? { kind: "fixed", ref: cache.ref } : { kind: "per-ref", repository: cache.ref };
}

/** Normalises a repository-relative path (`./a/b/` → `a/b`, `.` → ``) and rejects ones leaving the repository. */
function repoRelativePath(value: string, at: KeyPath, report: (keyPath: KeyPath, message: string) => void): string {
  if (value.includes("\\")) {
    report(at, `"${value}" contains a backslash (use / between directories)`);
    return "";
  }
  if (value.startsWith("/")) {
    report(at, `"${value}" is absolute; give a path relative to the repository root`);
    return "";
  }
  const segments = value.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    report(at, `"${value}" contains ".."; paths must stay inside the repository`);
    return "";
  }
  return segments.join("/");
}

interface LocatedMessage {
  at: { line: number; column: number };
  message: string;
}

const TYPE_WORDS: Record<string, string> = {
  array: "a list",
  object: "a mapping (key: value)",
  string: "a string",
  boolean: "true or false",
  number: "a number",
  integer: "a whole number",
};

function describeValue(value: unknown): string {
  if (value === null) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function suggestion(unknown: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: levenshtein(unknown.toLowerCase(), k) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? ` (did you mean "${best.k}"?)` : "";
}

function schemaIssues(errors: SchemaError[], locator: YamlLocator): LocatedMessage[] {
  // `cache` is `true | false | {ref}`: a mapping gets the object branch's errors, anything else one plain sentence.
  const oneOfRoots = new Map(errors.filter((e) => e.keyword === "oneOf").map((e) => [e.instancePath, e.data]));
  const out: LocatedMessage[] = [];
  for (const e of errors) {
    const keyPath = pointerToKeyPath(e.instancePath);
    const where = keyPath.length === 0 ? "" : `${formatKeyPath(keyPath)}: `;
    const root = [...oneOfRoots.keys()].find((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    if (root !== undefined) {
      const rootData = oneOfRoots.get(root);
      const rootIsMapping = typeof rootData === "object" && rootData !== null && !Array.isArray(rootData);
      if (e.keyword === "oneOf") {
        if (!rootIsMapping) {
          out.push({
            at: locator.locate(keyPath),
            message: `${where}must be true, false or a mapping with a \`ref\` (got ${describeValue(e.data)})`,
          });
        }
        continue;
      }
      if (!rootIsMapping || !e.schemaPath.includes("/oneOf/1/")) continue;
    }
    switch (e.keyword) {
      case "additionalProperties": {
        const prop = String((e.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((e.parentSchema as { properties?: Record<string, unknown> }).properties ?? {});
        out.push({
          at: locator.locate(keyPath, prop),
          message: `${keyPath.length === 0 ? "" : where}unknown key "${prop}"${suggestion(prop, known)}; allowed keys: ${known.join(", ")}`,
        });
        break;
      }
      case "required": {
        const prop = String((e.params as { missingProperty: string }).missingProperty);
        out.push({ at: locator.locateKey(keyPath), message: `${where}missing required key "${prop}"` });
        break;
      }
      case "type": {
        const types = ([] as string[]).concat((e.params as { type: string | string[] }).type);
        const words = types.map((t) => TYPE_WORDS[t] ?? t);
        const expected = words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words.at(-1)}` : words[0];
        out.push({
          at: locator.locate(keyPath),
          message: `${where}must be ${expected} (got ${describeValue(e.data)})`,
        });
        break;
      }
      case "pattern": {
        const hint = (e.parentSchema as { patternErrorMessage?: string }).patternErrorMessage;
        const propertyName = (e as SchemaError & { propertyName?: string }).propertyName;
        if (propertyName !== undefined) {
          out.push({
            at: locator.locate(keyPath, propertyName),
            message: `${where}${JSON.stringify(propertyName)} ${hint ?? `must match ${String(e.params.pattern)}`}`,
          });
        } else {
          out.push({
            at: locator.locate(keyPath),
            message: `${where}${JSON.stringify(e.data)} ${hint ?? `must match ${String(e.params.pattern)}`}`,
          });
        }
        break;
      }
      case "propertyNames":
        break; // reported by the nested pattern error, which knows the offending key
      case "maxItems":
      case "maxProperties": {
        const count = Array.isArray(e.data) ? e.data.length : Object.keys(e.data as object).length;
        out.push({
          at: locator.locate(keyPath),
          message: `${where}${count} entries exceed the limit of ${String(e.params.limit)}`,
        });
        break;
      }
      case "uniqueItems": {
        const { i, j } = e.params as { i: number; j: number };
        const later = Math.max(i, j);
        out.push({ at: locator.locate([...keyPath, later]), message: `${where}${JSON.stringify((e.data as unknown[])[later])} is listed twice` });
        break;
      }
      case "enum":
        out.push({
          at: locator.locate(keyPath),
          message: `${where}must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(", ")} (got ${describeValue(e.data)})`,
        });
        break;
      case "minItems":
        out.push({ at: locator.locate(keyPath), message: `${where}must list at least ${String(e.params.limit)} item` });
        break;
      case "minLength":
        out.push({ at: locator.locate(keyPath), message: `${where}must not be empty` });
        break;
      case "maxLength":
        out.push({
          at: locator.locate(keyPath),
          message: `${where}is longer than ${String(e.params.limit)} characters`,
        });
        break;
      default:
        out.push({ at: locator.locate(keyPath), message: `${where}${e.message ?? e.keyword}` });
    }
  }
  return out;
}

function yamlMessage(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.column}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}
