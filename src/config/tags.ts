import { createHash } from "node:crypto";
import { AppError } from "../errors/index.js";

/**
 * Tag templates (`sha-{{short_sha}}`, `{{major}}.{{minor}}`) and Docker tag sanitising.
 *
 * Rendered tags are lowercased: Docker tags are case-sensitive, so `Feature/X` and `feature/x` would otherwise
 * be two tags users can't tell apart in a registry UI; lowercase keeps one spelling per branch.
 */
export const TAG_VARIABLES = ["branch", "sha", "short_sha", "pr", "tag", "major", "minor", "patch"] as const;
export type TagVariable = (typeof TAG_VARIABLES)[number];
export type TagVariables = Partial<Record<TagVariable, string>>;

export type RefKind = "branch" | "tag" | "pull_request";

export const DEFAULT_TAG_TEMPLATES: Readonly<Record<RefKind, readonly string[]>> = {
  branch: ["{{branch}}", "sha-{{short_sha}}"],
  tag: ["{{tag}}", "{{major}}.{{minor}}", "{{major}}"],
  pull_request: ["pr-{{pr}}"],
};

export const LATEST_TAG = "latest";
const MAX_TAG_LENGTH = 128;
const SHORT_SHA_LENGTH = 7;

type TemplatePart = { text: string } | { variable: TagVariable };

/** A template is malformed or names an unknown variable. `offset` is the position in the template string. */
export class TagTemplateError extends AppError {
  readonly code = "TAG_TEMPLATE_INVALID";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface Placeholder {
  /** Offset of the opening `{{`. */
  index: number;
  /** Offset just past the closing `}}`. */
  end: number;
  /** What is between the braces, without surrounding whitespace. */
  name: string;
}

/**
 * The `{{ name }}` placeholders of a template, left to right, in one pass. A placeholder is `{{`, then text
 * without braces, then `}}`; where the text after `{{` meets a `{` first, the next `{{` is tried. (This replaces
 * the regex `/\{\{\s*([^{}]*?)\s*\}\}/g`, same matches, which backtracked quadratically on `{{` and spaces.)
 */
function* placeholders(template: string): Generator<Placeholder> {
  let from = 0;
  // Offset of the first brace at or after `from`; each brace is found once, so the scan is linear.
  let brace = -1;
  const nextBrace = (at: number): number => {
    if (brace < at) {
      brace = at;
      while (brace < template.length && template[brace] !== "{" && template[brace] !== "}") brace++;
    }
    return brace;
  };
  while (from < template.length) {
    const open = template.indexOf("{{", from);
    if (open < 0) return;
    const close = nextBrace(open + 2);
    if (template[close] === "}" && template[close + 1] === "}") {
      yield { index: open, end: close + 2, name: template.slice(open + 2, close).trim() };
      from = close + 2;
    } else {
      from = open + 1;
    }
  }
}

export function parseTagTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of placeholders(template)) {
    const name = match.name;
    if (!(TAG_VARIABLES as readonly string[]).includes(name)) {
      throw new TagTemplateError(
        `unknown template variable "{{${name}}}" (known: ${TAG_VARIABLES.map((v) => `{{${v}}}`).join(", ")})`,
        match.index,
      );
    }
    if (match.index > last) parts.push({ text: template.slice(last, match.index) });
    parts.push({ variable: name as TagVariable });
    last = match.end;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  for (const part of parts) {
    if ("text" in part) {
      const open = part.text.indexOf("{{");
      const close = part.text.indexOf("}}");
      if (open >= 0 || close >= 0) {
        throw new TagTemplateError(
          `unbalanced braces in tag template "${template}" (write variables as {{name}})`,
          template.indexOf(open >= 0 ? "{{" : "}}"),
        );
      }
    }
  }
  return parts;
}

export function templateVariables(template: string): TagVariable[] {
  return parseTagTemplate(template).flatMap((p) => ("variable" in p ? [p.variable] : []));
}

/** Renders a template, or undefined when one of its variables has no value for this ref. Not sanitised. */
export function renderTagTemplate(template: string, vars: TagVariables): string | undefined {
  let out = "";
  for (const part of parseTagTemplate(template)) {
    if ("text" in part) {
      out += part.text;
      continue;
    }
    const value = vars[part.variable];
    if (value === undefined || value === "") return undefined;
    out += value;
  }
  return out;
}

function shortHash(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 8);
}

/**
 * Makes any string a valid Docker tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`): lowercase, every other character
 * becomes `-` (runs collapsed), leading `.`/`-` dropped. Too long → cut and suffixed with a hash of the original,
 * so two long branch names sharing a prefix stay distinct.
 */
export function sanitizeDockerTag(raw: string): string {
  let tag = raw
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[.-]+/, "");
  if (tag === "") return `_${shortHash(raw)}`;
  if (tag.length > MAX_TAG_LENGTH) {
    const suffix = `-${shortHash(raw)}`;
    tag = tag.slice(0, MAX_TAG_LENGTH - suffix.length) + suffix;
  }
  return tag;
}

export interface Semver {
  major: string;
  minor: string;
  patch: string;
  prerelease?: string;
}

/** `v1.2.3`, `1.2.3`, `v1.2.3-rc.1`, `1.2.3+build` → parts; anything else → undefined. */
export function parseSemverTag(tag: string): Semver | undefined {
  const m = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(tag);
  if (!m) return undefined;
  const [, major, minor, patch, prerelease] = m;
  return { major: major!, minor: minor!, patch: patch!, ...(prerelease ? { prerelease } : {}) };
}

export type RefContext =
  | { kind: "branch"; branch: string; sha: string }
  | { kind: "tag"; tag: string; sha: string }
  | { kind: "pull_request"; pr: number; sha: string };

/**
 * Values available to templates for a ref. `major`/`minor`/`patch` exist only for release versions: a
 * pre-release (`v2.0.0-rc.1`) must not move the `2` or `2.0` aliases.
 */
export function tagVariablesFor(ref: RefContext): TagVariables {
  const vars: TagVariables = { sha: ref.sha, short_sha: ref.sha.slice(0, SHORT_SHA_LENGTH) };
  if (ref.kind === "branch") vars.branch = ref.branch;
  if (ref.kind === "pull_request") vars.pr = String(ref.pr);
  if (ref.kind === "tag") {
    vars.tag = ref.tag;
    const semver = parseSemverTag(ref.tag);
    if (semver && !semver.prerelease) {
      vars.major = semver.major;
      vars.minor = semver.minor;
      vars.patch = semver.patch;
    }
  }
  return vars;
}

export interface DroppedTag {
  template: string;
  tag?: string;
  reason: string;
}

export interface RenderedTags {
  /** Sanitised, unique, in template order (`latest` last when added). */
  tags: string[];
  dropped: DroppedTag[];
}

export interface RenderTagsOptions {
  /** Templates from the config; undefined = defaults for the ref kind. */
  templates?: readonly string[];
  ref: RefContext;
  /** True for a push of the default branch: the only ref `latest` may go to. */
  defaultBranch: boolean;
  /** Add `latest` (the default-branch build is pushed). */
  addLatest: boolean;
}

/**
 * Renders the tags of one image for one ref. Templates whose variables don't exist for the ref are left out;
 * when none of the configured templates applies, the defaults for the ref kind are used so a build is never
 * untagged.
 */
export function renderTags(opts: RenderTagsOptions): RenderedTags {
  const vars = tagVariablesFor(opts.ref);
  const dropped: DroppedTag[] = [];
  const render = (templates: readonly string[]): string[] => {
    const out: string[] = [];
    for (const template of templates) {
      const rendered = renderTagTemplate(template, vars);
      if (rendered === undefined) {
        const missing = templateVariables(template).filter((v) => !vars[v]);
        dropped.push({
          template,
          reason: `{{${missing.join("}}, {{")}}} ${missing.length > 1 ? "have" : "has"} no value for this ${describeRef(opts.ref)}`,
        });
        continue;
      }
      out.push(sanitizeDockerTag(rendered));
    }
    return out;
  };
  let tags = opts.templates ? render(opts.templates) : [];
  if (tags.length === 0) tags = render(DEFAULT_TAG_TEMPLATES[opts.ref.kind]);
  const result: string[] = [];
  for (const tag of tags) {
    if (tag === LATEST_TAG && !opts.defaultBranch) {
      dropped.push({ template: tag, tag, reason: `"latest" only goes to pushes of the default branch` });
      continue;
    }
    if (!result.includes(tag)) result.push(tag);
  }
  if (opts.addLatest && opts.defaultBranch && !result.includes(LATEST_TAG)) result.push(LATEST_TAG);
  return { tags: result, dropped };
}

function describeRef(ref: RefContext): string {
  switch (ref.kind) {
    case "branch":
      return "branch build";
    case "tag":
    {
      const semver = parseSemverTag(ref.tag);
      if (!semver) return "non-semver tag";
      return semver.prerelease ? "pre-release tag" : "tag build";
    }
    case "pull_request":
      return "pull request build";
  }
}
