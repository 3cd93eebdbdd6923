// The app: reads the operator's configuration and starts the webhook endpoint, the planner and the build workers (main.ts runs it).
export { loadAppConfig, AppConfigError } from "./app-config.js";
export type { AppConfig } from "./app-config.js";
export { productionParts } from "./production-parts.js";
export { startBuildkitBot } from "./start-app.js";
export type { AppParts, RunningApp } from "./start-app.js";
