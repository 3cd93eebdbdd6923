import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { DEFAULT_CONFIG_LIMITS, limitsKey, schemaWithLimits } from "./config-limits.js";
import type { ConfigLimits } from "./config-limits.js";

/** `schema/buildkit-bot.schema.json`, shipped in the package so editors can validate the file too. */
export const REPO_CONFIG_SCHEMA_URL = new URL("../../schema/buildkit-bot.schema.json", import.meta.url);

/** One compiled validator per set of limits (a deployment has one, tests a few). */
const cached = new Map<string, ValidateFunction>();

export function loadRepoConfigSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(REPO_CONFIG_SCHEMA_URL, "utf8")) as Record<string, unknown>;
}

/** A fresh Ajv set up the way the config is validated (all errors, error messages editors also understand). */
export function createSchemaValidator(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
  // Understood by VS Code's JSON/YAML language servers; for us it is the text of a pattern error.
  ajv.addVocabulary(["patternErrorMessage"]);
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

export type SchemaError = ErrorObject;
