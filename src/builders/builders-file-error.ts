import { OperatorFileError } from "../config/index.js";
import type { OperatorFileIssue } from "../config/index.js";

export type BuildersFileIssue = OperatorFileIssue;

/** The builders file cannot be used: the app does not start. The message is one `file:line: reason` per problem, in file order. */
export class BuildersFileError extends OperatorFileError {
  readonly code = "BUILDERS_FILE_INVALID";
}
