#!/usr/bin/env node
// Launcher for the compiled CLI (`npm run build` produces dist/ and the library's own build, src/buildkit/dist/).
import module from "node:module";
import v8 from "node:v8";

// Node keeps the compiled code of the modules loaded below in its compile cache (os.tmpdir()/node-compile-cache,
// or NODE_COMPILE_CACHE), so a run after the first skips most parsing and compiling.
module.enableCompileCache?.();

// A CLI run allocates most of its memory while loading code, and nearly all of it survives, so V8's young
// generation (1 MB at start, grown 2x per scavenge) copied the same objects through 6-8 scavenges: a tenth of a warm
// build's CPU. Letting it grow 16x at its first scavenge leaves two. (The initial size can only be set on the node
// command line; the growth factor is read at each growth.)
v8.setFlagsFromString("--semi-space-growth-factor=16");

// The CLI's own build, or the library's (loaded lazily, by its package name, when a command needs it).
const MISSING_BUILD = /^Cannot find module '([^']*(?:[/\\]dist[/\\]cli[/\\]main\.js|[/\\]@buildkit-bot[/\\]buildkit[/\\]dist[/\\][^']*))'/;

function explainMissingBuild(error) {
  const missing = error?.code === "ERR_MODULE_NOT_FOUND" ? MISSING_BUILD.exec(String(error.message))?.[1] : undefined;
  if (!missing) throw error;
  process.stderr.write(`error: ${missing} is missing; run \`npm run build\` first\n`);
  process.exit(1);
}

let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (error) {
  explainMissingBuild(error);
}
try {
  process.exitCode = await cli.main(process.argv.slice(2));
} catch (error) {
  explainMissingBuild(error);
}
