/** Process exit codes of the `buildkit-bot` command. */
export const ExitCode = {
  Ok: 0,
  BuildFailed: 1,
  Usage: 2,
  DaemonUnreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
