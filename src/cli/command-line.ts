import type { FlagSpecs, ParsedFlags } from "./flag-parser.js";
import { parseFlags } from "./flag-parser.js";
import { BUILD_GITHUB_HELP, BUILD_HELP, BUILD_LOCAL_HELP, HEALTH_HELP, MAIN_HELP } from "./help-text.js";
import { UsageError } from "./usage-error.js";

// This module decides what an invocation asks for from its words alone. It loads no part of the library, so
// `--help` and misspelt flags answer without loading gRPC (see main.ts).

const COMMON: FlagSpecs = {
  addr: { type: "string" },
  help: { type: "boolean", short: "h" },
};

const HEALTH_FLAGS: FlagSpecs = { ...COMMON, json: { type: "boolean" } };

const BUILD_FLAGS: FlagSpecs = {
  ...COMMON,
  json: { type: "boolean" },
  progress: { type: "string" },
  file: { type: "string", short: "f" },
  tag: { type: "string", short: "t", multiple: true },
  "build-arg": { type: "string", multiple: true },
  target: { type: "string" },
  label: { type: "string", multiple: true },
  platform: { type: "string", multiple: true },
  secret: { type: "string", multiple: true },
  "cache-from": { type: "string", multiple: true },
  "cache-to": { type: "string", multiple: true },
  "no-cache": { type: "boolean" },
  pull: { type: "boolean" },
  output: { type: "string", short: "o" },
  push: { type: "boolean" },
  "registry-host": { type: "string" },
  "registry-user": { type: "string" },
  "registry-password-stdin": { type: "boolean" },
};
const LOCAL_FLAGS: FlagSpecs = { ...BUILD_FLAGS, context: { type: "string" } };
const GITHUB_FLAGS: FlagSpecs = {
  ...BUILD_FLAGS,
  "git-ref": { type: "string" },
  subdir: { type: "string" },
  token: { type: "string" },
};

/** An invocation read into its command and flags; nothing it points at has been read yet. */
export type CommandLine =
  | { kind: "help"; text: string }
  | { kind: "health"; flags: ParsedFlags }
  | { kind: "build"; source: "local" | "github"; flags: ParsedFlags };

/** Reads `buildkit-bot …` arguments (without the node/script prefix); a UsageError names what is wrong. */
export function readCommandLine(argv: readonly string[]): CommandLine {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw new UsageError(`missing command\n\n${MAIN_HELP}`);
    case "help":
    case "--help":
    case "-h":
      return { kind: "help", text: MAIN_HELP };
    case "health": {
      const flags = parseFlags(rest, HEALTH_FLAGS);
      if (flags.booleans.has("help")) return { kind: "help", text: HEALTH_HELP };
      return { kind: "health", flags };
    }
    case "build": {
      const [source, ...args] = rest;
      if (source === undefined || source === "--help" || source === "-h") return { kind: "help", text: BUILD_HELP };
      if (source !== "local" && source !== "github") {
        throw new UsageError(`build needs a source: "build local --context DIR" or "build github URL" (got "${source}")`);
      }
      const flags = parseFlags(args, source === "local" ? LOCAL_FLAGS : GITHUB_FLAGS);
      if (flags.booleans.has("help")) return { kind: "help", text: source === "local" ? BUILD_LOCAL_HELP : BUILD_GITHUB_HELP };
      return { kind: "build", source, flags };
    }
    default:
      throw new UsageError(`unknown command "${command}" (commands: health, build local, build github)`);
  }
}
