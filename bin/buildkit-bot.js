#!/usr/bin/env node
// Launcher for the compiled CLI (`npm run build` produces dist/).
import module from "node:module";

// Node keeps the compiled code of the modules loaded below in its compile cache (os.tmpdir()/node-compile-cache,
// or NODE_COMPILE_CACHE), so a run after the first skips most parsing and compiling.
module.enableCompileCache?.();

let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (error) {
  if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli/main.js")) {
    process.stderr.write("error: dist/cli/main.js is missing; run `npm run build` first\n");
    process.exit(1);
  }
  throw error;
}
process.exitCode = await cli.main(process.argv.slice(2));
