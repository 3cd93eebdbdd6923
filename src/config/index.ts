// A repository's `.github/buildkit-bot.yml`: schema, parsing with line-numbered issues, limits, path filters, tag templates;
// and the shared reading of the operator's YAML files (tenants, builders).
export { ConfigError, formatConfigIssue, REPO_CONFIG_PATH } from "./config-error.js";
export type { ConfigIssue } from "./config-error.js";
export { CONFIG_LIMIT_NAMES, CONFIG_LIMIT_SPECS, CONFIG_LIMITS_VARIABLE, ConfigLimitsError, configLimitsFromEnv, DEFAULT_CONFIG_LIMITS, schemaNode, schemaWithoutLimits } from "./config-limits.js";
export type { ConfigLimitName, ConfigLimits, LimitSpec } from "./config-limits.js";
export { createSchemaValidator, loadRepoConfigSchemaText, repoConfigValidatorFingerprint, usePrecompiledRepoConfigValidator } from "./config-schema.js";
export type { RepoConfigValidatorOrigin } from "./config-schema.js";
export { rootDockerfileConfig } from "./default-repo-config.js";
export { dockerfileInContext } from "./dockerfile-path.js";
export { parseRepoConfig } from "./parse-repo-config.js";
export { refMatches, selectFiles } from "./path-filter.js";
export type { CacheSetting, ImageConfig, RepoConfig } from "./repo-config.js";
export { DEFAULT_TAG_TEMPLATES, renderTags, sanitizeDockerTag, templateVariables } from "./tags.js";
export type { DroppedTag, RefContext } from "./tags.js";
export { OperatorFileError, parseOperatorFile, readOperatorFileText } from "./operator-file.js";
export type { OperatorFileFormat, OperatorFileIssue, ParsedOperatorFile, SchemaWording } from "./operator-file.js";
export { formatKeyPath, pointerToKeyPath, YamlLocator } from "./yaml-locate.js";
export type { KeyPath } from "./yaml-locate.js";
