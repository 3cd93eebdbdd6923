import type { BuildRequest } from "@buildkit-bot/buildkit";

/** How build progress is shown on stderr: `auto` = a live step view on a TTY, `plain` otherwise. */
export type ProgressMode = "auto" | "plain" | "json" | "quiet";

export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "plain", "json", "quiet"];

export interface HealthCommand {
  kind: "health";
  /** Daemon address (`--addr`, else `BUILDKIT_HOST`, else buildkitd's default socket). */
  addr: string;
  /** Print the result as one JSON object on stdout. */
  json: boolean;
}

export interface BuildCommand {
  kind: "build";
  addr: string;
  request: BuildRequest;
  progress: ProgressMode;
  json: boolean;
  /** Remarks for stderr (e.g. ignored credential helpers). Never contain secrets. */
  notes: string[];
}

export interface HelpCommand {
  kind: "help";
  /** The help text to print on stdout. */
  text: string;
}

/** What one `buildkit-bot …` invocation asks for. */
export type CliCommand = HealthCommand | BuildCommand | HelpCommand;
