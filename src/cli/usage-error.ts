import { ExitCode } from "./exit-codes.js";

/** The command line is wrong; the message names the offending flag. Exits with code 2. */
export class UsageError extends Error {
  readonly exitCode = ExitCode.Usage;
  constructor(
    message: string,
    /** The flag at fault, e.g. `--build-arg`, when there is one. */
    readonly flag?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}
