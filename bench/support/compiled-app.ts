import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * The app compiled with tsconfig.build.json, as production runs it (`node dist/app/main.js`), into a scratch
 * package root: `dist/` next to a link to the repository's schema/ and a node_modules/ of links to the repository's
 * packages except the library (@buildkit-bot/buildkit), which is compiled there on its own, as `npm run build`
 * compiles it into src/buildkit/dist (its proto descriptors are compiled in). Returns the path of main.js.
 */
export async function compileApp(scratch: string): Promise<string> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(join(scratch, "node_modules"), { recursive: true });
  await symlink(join(REPO, "schema"), join(scratch, "schema"));
  for (const name of await readdir(join(REPO, "node_modules"))) {
    if (name !== LIBRARY_SCOPE) await symlink(join(REPO, "node_modules", name), join(scratch, "node_modules", name));
  }
  await copyFile(join(REPO, "package.json"), join(scratch, "package.json"));
  const library = join(scratch, "node_modules", LIBRARY);
  await mkdir(library, { recursive: true });
  await copyFile(join(REPO, "src/buildkit/package.json"), join(library, "package.json"));
  await tsc(["-p", join(REPO, "src/buildkit/tsconfig.json"), "--outDir", join(library, "dist")]); // with its typings
  // The app against that build's typings, as tsconfig.build.json has it against src/buildkit/dist.
  const tsconfig = join(scratch, "tsconfig.json");
  const paths = { [LIBRARY]: [join(library, "dist/index.d.ts")] };
  await writeFile(tsconfig, JSON.stringify({ extends: join(REPO, "tsconfig.build.json"), compilerOptions: { paths } }));
  await tsc(["-p", tsconfig, "--outDir", join(scratch, "dist"), "--sourceMap", "false", "--declaration", "false"]);
  return join(scratch, "dist/app/main.js");
}

const LIBRARY = "@buildkit-bot/buildkit";
const LIBRARY_SCOPE = LIBRARY.split("/")[0];

function tsc(args: string[]): Promise<unknown> {
  const tscBin = join(REPO, "node_modules/typescript/bin/tsc");
  return run(process.execPath, [tscBin, ...args], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
}

/**
 * The package compiled as `compileApp` does, plus its CLI launcher at `<scratch>/bin/buildkit-bot.js`: what
 * `npm run build` then `node bin/buildkit-bot.js` runs, without writing the checkout's own dist/. Returns the
 * launcher's path.
 */
export async function compileCli(scratch: string): Promise<string> {
  await compileApp(scratch);
  await mkdir(join(scratch, "bin"), { recursive: true });
  await copyFile(join(REPO, "bin", "buildkit-bot.js"), join(scratch, "bin", "buildkit-bot.js"));
  return join(scratch, "bin", "buildkit-bot.js");
}

export interface CompiledApp {
  pid: number;
  stop(): Promise<void>;
}

/** The node flags of the production image's `CMD ["node", …flags, "dist/app/main.js"]`, read from the Dockerfile. */
export async function productionNodeFlags(): Promise<string[]> {
  const cmd = (await readFile(join(REPO, "Dockerfile"), "utf8")).split("\n").filter((l) => l.startsWith("CMD ")).at(-1);
  const argv = cmd ? (JSON.parse(cmd.slice(4)) as unknown) : undefined;
  if (!Array.isArray(argv) || argv[0] !== "node" || argv.at(-1) !== "dist/app/main.js") {
    throw new Error(`the Dockerfile's CMD is not ["node", …flags, "dist/app/main.js"]: ${cmd ?? "none"}`);
  }
  return argv.slice(1, -1).map(String);
}

/**
 * The `ENV` settings of the production image's last stage (`ENV NAME=value …` lines after its last `FROM`), read from
 * the Dockerfile: a benchmark runs the app with them as production does (the caller's env wins on a clash).
 */
export async function productionEnv(): Promise<Record<string, string>> {
  const lines = (await readFile(join(REPO, "Dockerfile"), "utf8")).split("\n");
  const lastFrom = lines.findLastIndex((l) => l.startsWith("FROM "));
  const env: Record<string, string> = {};
  for (const line of lines.slice(lastFrom + 1)) {
    if (!line.startsWith("ENV ")) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`the Dockerfile's ENV is not NAME=value: ${line}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/**
 * Starts the compiled app with `env` over the production image's ENV, and its node flags; output goes to
 * `<logDir>/<name>.log`. Stopped by PID (SIGTERM, then SIGKILL).
 */
export async function startCompiledApp(main: string, env: NodeJS.ProcessEnv, logDir: string, name: string): Promise<CompiledApp> {
  await mkdir(logDir, { recursive: true });
  const flags = await productionNodeFlags();
  const imageEnv = await productionEnv();
  const fd = openSync(join(logDir, `${name}.log`), "a");
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...flags, main], { cwd: REPO, env: { ...imageEnv, ...env }, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  const exit = new Promise<void>((done) => child.once("exit", () => ((exited = true), done())));
  await new Promise<void>((ok, fail) => {
    child.once("spawn", ok);
    child.once("error", fail);
  });
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      if (await Promise.race([exit.then(() => false), sleep(30_000).then(() => true)])) {
        child.kill("SIGKILL");
        await exit;
      }
    },
  };
}
