import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";

/** `schema/buildkit-bot.schema.json`, shipped in the package so editors can validate the file too. */
export const REPO_CONFIG_SCHEMA_URL = new URL("../../schema/buildkit-bot.schema.json", import.meta.url);

let cached: ValidateFunction | undefined;

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

export function repoConfigValidator(): ValidateFunction {
  cached ??= createSchemaValidator().compile(loadRepoConfigSchema());
  return cached;
}

export type SchemaError = ErrorObject;
