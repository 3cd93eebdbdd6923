import { OperatorFileError } from "../config/index.js";
import type { OperatorFileIssue } from "../config/index.js";

export type TenantsFileIssue = OperatorFileIssue;

/**
 * The tenants file cannot be used: the app does not start. The message is one `file:line: reason` per problem, in
 * file order; it never holds a credential's value.
 */
export class TenantsFileError extends OperatorFileError {
  readonly code = "TENANTS_FILE_INVALID";
}
