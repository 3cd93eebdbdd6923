import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readManifest } from "../buildkit/registry-reads.js";
import { buildkitdDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";

/**
 * Issue 16: the library is its own package. `npm pack` of the workspace, the tarball installed into a scratch
 * project outside the repository (npm's cache first, the registry for what it lacks), imported from JavaScript and
 * from TypeScript through its typings, then `health` and the README's example build against the stack's buildkitd.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PACKAGE_DIR = join(REPO, "src/buildkit");
const NAME = "@buildkit-bot/buildkit";
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const TSX = import.meta.resolve("tsx");
/** What the library may bring along: gRPC and what gRPC itself depends on. */
const GRPC_PACKAGES = ["@grpc/grpc-js", "@grpc/proto-loader", "protobufjs"];

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
}

/** The environment for npm: this process's, without the `npm_*` variables of an `npm test` around it. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));
  return { ...env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", args, { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  return stdout;
}

/** Runs `node ARGS` in the scratch project; resolves its output whatever the exit code. */
async function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd, env: { PATH: process.env.PATH, ...env }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? String(error) };
  }
}

/** Every `.ts` source of the library (not its generated-output or dependency folders), relative to it. */
async function librarySources(dir = PACKAGE_DIR): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (dir === PACKAGE_DIR && (entry.name === "dist" || entry.name === "node_modules")) continue;
      out.push(...(await librarySources(path)));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      out.push(relative(PACKAGE_DIR, path));
    }
  }
  return out.sort();
}

/** `name@version` of every package under a node_modules folder, nested ones included. */
async function installedPackages(nodeModules: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const visit = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith("@")) {
        await visit(path);
        continue;
      }
      const manifest = JSON.parse(await readFile(join(path, "package.json"), "utf8")) as PackageJson;
      if (manifest.name) found.set(manifest.name, manifest.version ?? "");
      await visit(join(path, "node_modules"));
    }
  };
  await visit(nodeModules);
  return found;
}

describe("the library as its own npm package", { timeout: 900_000 }, () => {
  const stack = testStack();
  const daemon = buildkitdDaemon(stack);
  let work: string;
  let app: string;
  let packed: PackResult;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-package-"));
    app = join(work, "consumer");
    await mkdir(app);
    // prepack compiles the workspace (src/buildkit/tsconfig.json) into src/buildkit/dist, as a release would.
    const out = await npm(["pack", "--json", "--pack-destination", work, "--workspace", NAME], REPO);
    const results = JSON.parse(out) as PackResult[]; // lifecycle scripts print to stderr under --json
    assert.equal(results.length, 1, out);
    packed = results[0]!;
    await writeFile(join(app, "package.json"), `${JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)}\n`);
    await npm(["install", "--prefer-offline", "--no-audit", "--no-fund", join(work, packed.filename)], app);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("the tarball holds every module compiled with its typings, and no source", async () => {
    const files = packed.files.map((f) => f.path).sort();
    const expectedJs = (await librarySources()).map((source) => `dist/${source.replace(/\.ts$/, ".js")}`);
    assert.deepEqual(
      files.filter((f) => f.endsWith(".js")),
      expectedJs,
      "one compiled module per source file",
    );
    assert.deepEqual(
      files.filter((f) => f.endsWith(".d.ts")),
      expectedJs.map((f) => f.replace(/\.js$/, ".d.ts")),
      "one declaration file per module",
    );
    const rest = files.filter((f) => !f.endsWith(".js") && !f.endsWith(".d.ts"));
    assert.deepEqual(
      rest.filter((f) => f !== "package.json" && !/^dist\/.+\.json$/.test(f)),
      [],
      "nothing but package.json and the modules' own data",
    );
    const manifest = JSON.parse(await readFile(join(app, "node_modules", NAME, "package.json"), "utf8")) as PackageJson;
    assert.deepEqual(manifest.exports?.["."], { types: "./dist/index.d.ts", default: "./dist/index.js" });
  });

  test("installs with gRPC dependencies only: none of the app's (probot, bullmq, ioredis, ajv, …)", async () => {
    const root = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as PackageJson;
    const appDependencies = Object.keys(root.dependencies ?? {}).filter((name) => name !== NAME);
    for (const name of ["probot", "bullmq", "ioredis", "ajv"]) assert.ok(appDependencies.includes(name), `${name} is an app dependency`);

    const manifest = JSON.parse(await readFile(join(app, "node_modules", NAME, "package.json"), "utf8")) as PackageJson;
    const declared = Object.keys(manifest.dependencies ?? {});
    assert.ok(declared.length > 0);
    for (const name of declared) assert.ok(GRPC_PACKAGES.includes(name), `${name} is not a gRPC package`);
    assert.equal(manifest.dependencies?.["@grpc/grpc-js"], "1.14.7", "grpc-js stays pinned");

    const installed = await installedPackages(join(app, "node_modules"));
    assert.equal(installed.get(NAME), manifest.version);
    assert.equal(installed.get("@grpc/grpc-js"), "1.14.7");
    for (const name of GRPC_PACKAGES) assert.ok(installed.has(name), `${name} is installed`);
    const leaked = appDependencies.filter((name) => installed.has(name));
    assert.deepEqual(leaked, [], `app dependencies in the scratch project's node_modules (${[...installed.keys()].join(", ")})`);
  });

  test("imports from a .js file: only the package's entry, the installed copy", { skip: daemon.skip }, async () => {
    await writeFile(
      join(app, "check.mjs"),
      [
        `import * as buildkit from "${NAME}";`,
        `const internal = await import("${NAME}/dist/client.js").then(() => "importable", (error) => error.code);`,
        "const client = await buildkit.BuildKitClient.connect(process.argv[2]);",
        "try {",
        "  const health = await client.health();",
        `  console.log(JSON.stringify({ names: Object.keys(buildkit), entry: import.meta.resolve("${NAME}"), internal, daemon: health.daemon, version: health.version }));`,
        "} finally {",
        "  await client.close();",
        "}",
        "",
      ].join("\n"),
    );
    const result = await node(["check.mjs", daemon.address], app);
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as { names: string[]; entry: string; internal: string; daemon: string; version?: { buildkit?: string } };
    assert.equal(printed.entry, new URL(`node_modules/${NAME}/dist/index.js`, `file://${app}/`).href);
    assert.equal(printed.internal, "ERR_PACKAGE_PATH_NOT_EXPORTED", "the exports map hides the internals");
    for (const name of ["BuildKitClient", "BuildConfig", "consoleProgress", "jsonLinesProgress", "BuildKitError", "StepFailedError", "ConnectionError"]) {
      assert.ok(printed.names.includes(name), `${name} is exported`);
    }
    assert.equal(printed.daemon, "buildkitd");
    assert.match(printed.version?.buildkit ?? "", /^v0\.\d+/);
  });

  test("imports from TypeScript: its typings check (tsc --noEmit, strict) and the file runs", { skip: daemon.skip }, async () => {
    await writeFile(
      join(app, "tsconfig.json"),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            // @types/node as a consumer has it; the repository's copy, so that the scratch project installs nothing else.
            typeRoots: [join(REPO, "node_modules/@types")],
            types: ["node"],
          },
          files: ["check.ts"],
        },
        null,
        2,
      )}\n`,
    );
    await writeFile(
      join(app, "check.ts"),
      [
        `import { BuildKitClient, ConnectionError } from "${NAME}";`,
        `import type { BuildResult, DaemonHealth, ProgressEvent } from "${NAME}";`,
        "",
        "/** Never called: it only compiles if the typings are precise (with `any`, both expected errors vanish). */",
        "export function typingsArePrecise(result: BuildResult, event: ProgressEvent): void {",
        "  // @ts-expect-error a digest is a string",
        "  const digest: number | undefined = result.digest;",
        "  // @ts-expect-error no such progress event",
        '  if (event.type === "no-such-event") return;',
        "  void digest;",
        "}",
        "",
        "const client: BuildKitClient = await BuildKitClient.connect(process.argv[2], { connectTimeoutMs: 10_000 });",
        "try {",
        "  const health: DaemonHealth = await client.health();",
        "  const platforms: string[] = health.workers.flatMap((worker) => worker.platforms);",
        "  console.log(JSON.stringify({ daemon: health.daemon, platforms }));",
        "} finally {",
        "  await client.close();",
        "}",
        "const refused = await BuildKitClient.connect(`unix://${process.cwd()}/nothing.sock`, { connectTimeoutMs: 2_000 }).then(",
        "  () => false,",
        "  (error: unknown) => error instanceof ConnectionError,",
        ");",
        "console.log(JSON.stringify({ refused }));",
        "",
      ].join("\n"),
    );
    const checked = await node([TSC, "-p", join(app, "tsconfig.json")], app);
    assert.equal(checked.code, 0, `tsc: ${checked.stdout}${checked.stderr}`);

    const result = await node(["--import", TSX, "check.ts", daemon.address], app);
    assert.equal(result.code, 0, result.stderr);
    const [health, refused] = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(health?.daemon, "buildkitd");
    assert.ok((health?.platforms as string[]).includes("linux/amd64"), result.stdout);
    assert.deepEqual(refused, { refused: true });
  });

  test("the README's example (examples/library-build.mjs) builds and pushes with the installed package", { skip: daemon.skip, timeout: 300_000 }, async () => {
    await copyFile(join(REPO, "examples/library-build.mjs"), join(app, "library-build.mjs"));
    const context = join(app, "image");
    await mkdir(context);
    const stamp = randomBytes(6).toString("hex");
    await writeFile(join(context, "Dockerfile"), `FROM ${stack.baseImage}\nRUN echo ${stamp} > /stamp\n`);
    const repository = `bkb-test/package-example-${stamp}`;
    const image = `${stack.registry}/${repository}:v1`;

    const result = await node(["library-build.mjs", "./image", image], app, { BUILDKIT_HOST: daemon.address });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^building on buildkitd v0\.\d+/m);
    assert.match(result.stderr, new RegExp(`RUN echo ${stamp}`), "progress on stderr");
    const printed = /^(\S+) (sha256:[0-9a-f]{64}) \((\d+) steps, (\d+) cached\)$/m.exec(result.stdout);
    assert.ok(printed, result.stdout);
    assert.equal(printed[1], image);
    const pushed = await readManifest(stack.registry, repository, "v1");
    assert.equal(pushed.status, 200);
    assert.equal(pushed.digest, printed[2], "the printed digest is the registry's");
  });
});
