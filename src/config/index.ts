// A repository's `.github/buildkit-bot.yml`: schema, parsing with line-numbered issues, limits, path filters, tag templates.
export { ConfigError, formatConfigIssue, REPO_CONFIG_PATH } from "./config-error.js";
export type { ConfigIssue } from "./config-error.js";
export { CONFIG_LIMIT_NAMES, CONFIG_LIMIT_SPECS, CONFIG_LIMITS_VARIABLE, ConfigLimitsError, configLimitsFromEnv, DEFAULT_CONFIG_LIMITS, schemaNode } from "./config-limits.js";
export type { ConfigLimitName, ConfigLimits, LimitSpec } from "./config-limits.js";
export { createSchemaValidator } from "./config-schema.js";
export { rootDockerfileConfig } from "./default-repo-config.js";
export { parseRepoConfig } from "./parse-repo-config.js";
export { refMatches, selectFiles } from "./path-filter.js";
export type { CacheSetting, ImageConfig, RepoConfig } from "./repo-config.js";
export { DEFAULT_TAG_TEMPLATES, renderTags, sanitizeDockerTag, templateVariables } from "./tags.js";
export type { DroppedTag, RefContext } from "./tags.js";
export { formatKeyPath, pointerToKeyPath, YamlLocator } from "./yaml-locate.js";
export type { KeyPath } from "./yaml-locate.js";
