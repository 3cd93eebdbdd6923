// The builder pool: the builders file, each builder's platforms, health and drain, running builds per builder, and the choice of one for a build.
export { BuildersFileError } from "./builders-file-error.js";
export type { BuildersFileIssue } from "./builders-file-error.js";
export { BUILDERS_SCHEMA_URL, DEFAULT_BUILDER_NAME, buildersSchema, parseBuildersFile, readBuildersFile, singleBuilder } from "./builders-file.js";
export type { BuildersConfig, BuilderSpec } from "./builders-file.js";
export { chooseBuilder, DEFAULT_LOAD_FACTOR, servesPlatform } from "./choose-builder.js";
export type { BuilderCandidate, BuilderChoice, ChooseBuilderOptions, SplitChoice } from "./choose-builder.js";
export { BuilderUnservableError, NoBuilderAvailableError } from "./builder-errors.js";
export type { BuilderOutOfService } from "./builder-errors.js";
export { BuilderPool } from "./builder-pool.js";
export { runningPerBuilder } from "./running-builds.js";
export type { BuilderLease, BuilderPoolOptions, BuilderRequest, BuilderSnapshot, ChooseBuilder, PoolLog } from "./builder-pool.js";
