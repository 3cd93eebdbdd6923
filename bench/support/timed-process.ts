import { spawn } from "node:child_process";

/**
 * Runs a command to its exit and resolves its wall time in ms (process start and exit included); rejects with the
 * tail of its output when it fails.
 */
export async function timedProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-8192);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code ?? signal}:\n${output}`)),
    );
  });
  return performance.now() - started;
}

/** The caller's environment without the variables a build client would read on its own (daemon, token, config). */
export function cleanClientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("BUILDKIT") || k.startsWith("DOCKER_") || k === "GITHUB_TOKEN") continue;
    env[k] = v;
  }
  return env;
}
