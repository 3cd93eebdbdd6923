import { AppError } from "../errors/index.js";
export interface TenantsFileIssue {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  reason: string;
}

/**
 * The tenants file cannot be used: the app does not start. The message is one `file:line: reason` per problem, in
 * file order; it never holds a credential's value.
 */
export class TenantsFileError extends AppError {
  readonly code = "TENANTS_FILE_INVALID";
  readonly issues: readonly TenantsFileIssue[];

  constructor(
    readonly file: string,
    issues: readonly TenantsFileIssue[],
  ) {
    if (issues.length === 0) throw new TypeError("TenantsFileError needs at least one issue");
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super(sorted.map((i) => `${file}:${i.line}: ${i.reason}`).join("\n"));
    this.issues = sorted;
  }
}
