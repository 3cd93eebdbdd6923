import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as AjvModule from "ajv/dist/2020.js";
import type { Ajv2020, ErrorObject, Options, ValidateFunction } from "ajv/dist/2020.js";
import { CONFIG_LIMIT_NAMES, CONFIG_LIMIT_SPECS, DEFAULT_CONFIG_LIMITS, limitsKey, schemaWithLimits, schemaWithoutLimits } from "./config-limits.js";
import type { ConfigLimits } from "./config-limits.js";

/** `schema/buildkit-bot.schema.json`, shipped in the package so editors can validate the file too. */
export const REPO_CONFIG_SCHEMA_URL = new URL("../../schema/buildkit-bot.schema.json", import.meta.url);

/** How the app compiles every schema: all errors, with the schema in each (for `patternErrorMessage`). */
export const SCHEMA_VALIDATOR_OPTIONS = { allErrors: true, verbose: true, allowUnionTypes: true, strict: true } as const satisfies Options;
/** Understood by VS Code's JSON/YAML language servers; for us it is the text of a pattern error. */
const EDITOR_KEYWORDS = ["patternErrorMessage"];

/**
 * Ajv is loaded on first use, not on import: a config check thread that has the precompiled validator never loads
 * its compiler (a third of the thread's memory).
 */
const loadCommonJs = createRequire(import.meta.url);

/** The generated validator module (`npm run config:gen`, scripts/config-validator.ts); git ignores it. */
const GENERATED_VALIDATOR_URL = new URL(import.meta.url.endsWith(".ts") ? "./generated/repo-config-validator.ts" : "./generated/repo-config-validator.js", import.meta.url);

export type SchemaError = ErrorObject;

/** A compiled validator, at run time by Ajv or ahead of time by Ajv's standalone code. */
export type RepoConfigValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Which validator repoConfigShapeValidator gives: the generated module, or one Ajv compiled here (the module is missing or was generated from another schema). */
export type RepoConfigValidatorOrigin = "precompiled" | "missing" | "stale";

/** One compiled validator per set of limits (a deployment has one, tests a few). */
const cached = new Map<string, ValidateFunction>();
let shapeValidator: RepoConfigValidator | undefined;
let shapeOrigin: RepoConfigValidatorOrigin | undefined;

export function loadRepoConfigSchemaText(): string {
  return readFileSync(REPO_CONFIG_SCHEMA_URL, "utf8");
}

export function loadRepoConfigSchema(): Record<string, unknown> {
  return JSON.parse(loadRepoConfigSchemaText()) as Record<string, unknown>;
}

/** A fresh Ajv set up the way the app validates its files; `extra` options for code generation. */
export function createSchemaValidator(extra: Options = {}): Ajv2020 {
  const { Ajv2020: Ajv } = loadCommonJs("ajv/dist/2020.js") as typeof AjvModule;
  const ajv = new Ajv({ ...SCHEMA_VALIDATOR_OPTIONS, ...extra });
  ajv.addVocabulary(EDITOR_KEYWORDS);
  return ajv;
}

/** The shipped schema's validator, its `maxItems`/`maxLength`/… set to `limits` (by default the shipped ones). */
export function repoConfigValidator(limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): ValidateFunction {
  const key = limitsKey(limits);
  let validate = cached.get(key);
  if (!validate) {
    validate = createSchemaValidator().compile(schemaWithLimits(loadRepoConfigSchema(), limits));
    cached.set(key, validate);
  }
  return validate;
}

/**
 * The validator parseRepoConfig runs, after configLimitViolations has checked the counts and lengths against the
 * account's limits: the shipped schema without its limit keywords (schemaWithoutLimits), the same for every set of
 * limits. The precompiled one once usePrecompiledRepoConfigValidator has found it up to date, else compiled by Ajv
 * on first use.
 */
export function repoConfigShapeValidator(): RepoConfigValidator {
  if (!shapeValidator) {
    shapeValidator = createSchemaValidator().compile(schemaWithoutLimits(loadRepoConfigSchema()));
  }
  return shapeValidator;
}

/**
 * What the generated module was made from, written into it and compared when it is loaded: the schema's text, the
 * keywords taken out of it and the compiler's options. Any other difference (Ajv's version) is caught by the test
 * that compares the module with a fresh generation.
 */
export function repoConfigValidatorFingerprint(schemaText: string): string {
  const stripped = CONFIG_LIMIT_NAMES.flatMap((name) => CONFIG_LIMIT_SPECS[name].schema.map((s) => `${s.pointer} ${s.keyword}`));
  const input = JSON.stringify({ schemaText, stripped, options: SCHEMA_VALIDATOR_OPTIONS, keywords: EDITOR_KEYWORDS });
  return createHash("sha256").update(input).digest("hex");
}

/**
 * Has repoConfigShapeValidator use the module generated ahead of time from the schema, so this thread loads no
 * schema compiler and compiles nothing. Loaded only when its fingerprint matches the schema beside it; otherwise
 * (missing, or generated from an older schema) nothing changes and the answer says why. Run by each config check
 * thread before it takes work.
 */
export async function usePrecompiledRepoConfigValidator(): Promise<RepoConfigValidatorOrigin> {
  if (shapeOrigin === "precompiled") return shapeOrigin;
  let generated: { FINGERPRINT?: unknown; validate?: unknown };
  try {
    generated = (await import(GENERATED_VALIDATOR_URL.href)) as typeof generated;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw err;
    return (shapeOrigin = "missing");
  }
  if (generated.FINGERPRINT !== repoConfigValidatorFingerprint(loadRepoConfigSchemaText()) || typeof generated.validate !== "function") {
    return (shapeOrigin = "stale");
  }
  shapeValidator = generated.validate as RepoConfigValidator;
  return (shapeOrigin = "precompiled");
}
