import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian's docker.io CLI (20.10): the `docker` first on PATH is another client, possibly without buildx. */
export const DOCKER_CLI = "/usr/bin/docker";

/** The CLI's environment for one Engine: nothing of the caller's DOCKER_* leaks in. */
export function dockerEnv(socket: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DOCKER_") && !k.startsWith("BUILDKIT_")) env[k] = v;
  return { ...env, DOCKER_HOST: `unix://${socket}`, ...extra };
}

export async function docker(socket: string, args: string[], extra: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(DOCKER_CLI, args, { env: dockerEnv(socket, extra), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * "Cold": the Engine's build cache and every image are gone, so the next build pulls its base image from the
 * registry and runs every step. Only ever called on the bench stack's private Engine.
 */
export async function makeEngineCold(socket: string): Promise<void> {
  await docker(socket, ["builder", "prune", "-af"]);
  await docker(socket, ["image", "prune", "-af"]);
}

/** `docker build` with BuildKit; resolves the wall time in ms, rejects with the CLI's output on failure. */
export async function dockerBuild(socket: string, args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(DOCKER_CLI, ["build", "--progress=plain", ...args], {
      env: dockerEnv(socket, { DOCKER_BUILDKIT: "1" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-8192);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`docker build ${args.join(" ")} exited ${code}:\n${output}`))));
  });
  return performance.now() - started;
}
