// The `buildkit-bot` command line over the BuildKit library: build and health (bin/buildkit-bot.js runs `main`).
export { main, runCli } from "./main.js";
export type { CliIo } from "./main.js";
