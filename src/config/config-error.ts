import { AppError } from "../errors/index.js";
/** Where the per-repo configuration lives in a repository. */
export const REPO_CONFIG_PATH = ".github/buildkit-bot.yml";

/** One thing wrong with the per-repo config, located in the file for a check-run annotation. */
export interface ConfigIssue {
  path: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** What is wrong, starting with the key path: `images[1].platforms[0]: "linux/amd64 " is not a valid platform…`. */
  message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.message} — line ${issue.line}`;
}

/**
 * The repository's `.github/buildkit-bot.yml` is invalid. Carries every issue found (in file order), the first
 * one also as `path`/`line`/`column`/`message` fields. Never retried: the file has to change.
 */
export class ConfigError extends AppError {
  readonly code = "REPO_CONFIG_INVALID";
  readonly issues: readonly ConfigIssue[];
  readonly path: string;
  readonly line: number;
  readonly column: number;

  constructor(issues: readonly ConfigIssue[]) {
    const first = issues[0];
    if (!first) throw new TypeError("ConfigError needs at least one issue");
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(`${first.path}: ${formatConfigIssue(first)}${more}`);
    this.issues = issues;
    this.path = first.path;
    this.line = first.line;
    this.column = first.column;
  }
}
