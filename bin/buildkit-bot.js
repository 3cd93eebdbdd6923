#!/usr/bin/env node
// Launcher for the compiled CLI (`npm run build` produces dist/).
let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (error) {
  if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli/main.js")) {
    process.stderr.write("buildkit-bot: dist/cli/main.js is missing; run `npm run build` first\n");
    process.exit(1);
  }
  throw error;
}
process.exitCode = await cli.main(process.argv.slice(2));
