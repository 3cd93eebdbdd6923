import { execFile } from "node:child_process";

export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a short-lived command; resolves stdout, rejects with a CommandError carrying stderr. */
export function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const code = typeof err.code === "number" ? err.code : null;
        const detail = (stderr || stdout || err.message).trim().split("\n").slice(-20).join("\n");
        reject(new CommandError(`${command} ${args.join(" ")} failed (exit ${code ?? err.code ?? "?"}):\n${detail}`, code, stderr));
      },
    );
  });
}
