import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EngineApi } from "../../src/buildkit/engine/engine-api.js";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { testDaemons } from "../support/daemons.js";
import { startRegistry } from "../support/stack/registry.js";
import { testStack } from "../support/stack/env.js";
import { writeTree } from "../support/write-tree.js";
import { freePort } from "../support/stack/free-port.js";
import { readManifest } from "../buildkit/registry-reads.js";

const stack = testStack();
const run = promisify(execFile);
const unique = (): string => randomBytes(5).toString("hex");
const mainModule = new URL("../../src/cli/main.ts", import.meta.url).href;
const tsx = import.meta.resolve("tsx");
// The child runs in a scratch directory: tsx reads the repository's tsconfig (its `paths` resolve the library's
// package name to its source) only when told where it is.
const tsconfig = fileURLToPath(new URL("../../tsconfig.json", import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `buildkit-bot ARGS` as its own process (the bin's `main`, through tsx), with stdin fed from `input`. */
function cli(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; input?: string }): Promise<CliRun> {
  const launcher = `import { main } from ${JSON.stringify(mainModule)}; process.exitCode = await main(process.argv.slice(1));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, "--input-type=module", "-e", launcher, ...args], {
      cwd: options.cwd,
      env: { ...options.env, TSX_TSCONFIG_PATH: tsconfig },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
    child.stdin.end(options.input ?? "");
  });
}



const EVENT_TYPES = new Set(["step-started", "step-cached", "step-completed", "step-failed", "log", "progress", "counters", "warning"]);

for (const daemon of testDaemons()) describe(`buildkit-bot build options and exit codes, as a process on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  const engine = new EngineApi(stack.dockerSocket);
  const localImages: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "bkb-cli-options-"));
    await mkdir(join(work, "dockercfg"));
    // Only what the CLI needs: the daemon, an empty Docker config, PATH for nothing in particular.
    env = { PATH: process.env.PATH, BUILDKIT_HOST: daemon.address, DOCKER_CONFIG: join(work, "dockercfg") };
  });
  after(async () => {
    for (const image of localImages) await engine.removeImage(image).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const build = (args: string[], extra: { env?: NodeJS.ProcessEnv; input?: string } = {}) =>
    cli(["build", "local", ...args], { env: { ...env, ...extra.env }, cwd: work, ...(extra.input !== undefined ? { input: extra.input } : {}) });

  test("exit 0: a multi-platform type=local export, --json result, --progress json parsed line by line", { timeout: 180_000 }, async () => {
    await writeTree(join(work, "multi"), { Dockerfile: "FROM scratch\nARG NOTE\nCOPY hello.txt /\n", "hello.txt": "hello" });
    const result = await build(["--context", "multi", "--platform", "linux/amd64,linux/arm64", "--build-arg", "NOTE=x", "-o", "type=local,dest=multi-out", "--progress", "json", "--json"]);
    assert.equal(result.code, ExitCode.Ok, result.stderr);
    const summary = JSON.parse(result.stdout) as { ok: boolean; steps: { total: number; completed: number }; timings: { totalMs: number } };
    assert.equal(summary.ok, true);
    assert.ok(summary.steps.total > 0 && summary.steps.completed > 0, result.stdout);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    assert.ok(lines.length > 0);
    const events = lines.map((line) => JSON.parse(line) as { type: string; at: string; name?: string });
    for (const event of events) {
      assert.ok(EVENT_TYPES.has(event.type), event.type);
      assert.ok(!Number.isNaN(Date.parse(event.at)), event.at);
    }
    for (const type of ["step-started", "step-completed", "counters"]) assert.ok(events.some((e) => e.type === type), `a ${type} event`);
    // FROM scratch + COPY is the same LLB for both platforms: BuildKit merges the two vertexes, and which platform's
    // label the merged step carries is a race. The names are per-platform either way.
    assert.ok(events.some((e) => e.type === "step-started" && /\[linux\/(amd64|arm64) /.test(e.name ?? "")), "per-platform steps");
    assert.deepEqual((await readdir(join(work, "multi-out"))).sort(), ["linux_amd64", "linux_arm64"]);
    assert.equal(await readFile(join(work, "multi-out", "linux_arm64", "hello.txt"), "utf8"), "hello");
  });

  test("exit 1: a failing RUN, with the step's output on stderr", { timeout: 180_000 }, async () => {
    await writeTree(join(work, "fail"), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo going-down-${unique()} && exit 4\n` });
    const result = await build(["fail", "--progress", "plain"]);
    assert.equal(result.code, ExitCode.BuildFailed);
    assert.match(result.stderr, /going-down-/);
    assert.match(result.stderr, /^error: /m);
  });

  test("exit 2: a bad flag or value, naming it, before connecting anywhere", { timeout: 60_000 }, async () => {
    await writeTree(join(work, "usage"), { Dockerfile: "FROM scratch\n" });
    const unknown = await build(["usage", "--frobnicate"], { env: { BUILDKIT_HOST: "tcp://127.0.0.1:1" } });
    assert.equal(unknown.code, ExitCode.Usage);
    assert.match(unknown.stderr, /unknown flag --frobnicate/);
    const platform = await build(["usage", "--platform", "amd64"], { env: { BUILDKIT_HOST: "tcp://127.0.0.1:1" } });
    assert.equal(platform.code, ExitCode.Usage);
    assert.match(platform.stderr, /--platform "amd64": expected os\/arch/);
  });

  test("exit 3: nothing listens at --addr (also with --json)", { timeout: 60_000 }, async () => {
    await writeTree(join(work, "unreachable"), { Dockerfile: "FROM scratch\n" });
    const addr = `tcp://127.0.0.1:${await freePort()}`;
    const result = await build(["unreachable", "--addr", addr, "--json"]);
    assert.equal(result.code, ExitCode.DaemonUnreachable, result.stderr);
    const summary = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(summary.ok, false);
    assert.equal(summary.error.code, "CONNECTION");
    assert.ok(summary.error.message.includes(addr.replace("tcp://", "")), summary.error.message);
    const health = await cli(["health", "--addr", `unix://${join(work, "no.sock")}`], { env, cwd: work });
    assert.equal(health.code, ExitCode.DaemonUnreachable);
  });

  test("--help everywhere exits 0", { timeout: 60_000 }, async () => {
    for (const args of [["--help"], ["health", "--help"], ["build", "--help"], ["build", "local", "--help"], ["build", "github", "--help"]]) {
      const result = await cli(args, { env, cwd: work });
      assert.equal(result.code, ExitCode.Ok, args.join(" "));
      assert.match(result.stdout, /^Usage:/m);
    }
  });

  test("--secret from a variable is mounted and appears neither in the tar nor in the progress", { timeout: 180_000 }, async () => {
    const secret = `cli-secret-${unique()}`;
    await writeTree(join(work, "secret"), {
      Dockerfile: `FROM ${stack.baseImage}\nRUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && test -s /run/secrets/token && echo ok > /checked\n`,
    });
    const result = await build(["secret", "--secret", "id=token,env=BUILD_TOKEN", "-o", "type=tar,dest=secret.tar", "--progress", "plain"], {
      env: { BUILD_TOKEN: secret },
    });
    assert.equal(result.code, ExitCode.Ok, result.stderr);
    const { stdout } = await run("tar", ["-xOf", join(work, "secret.tar"), "checked"]);
    assert.equal(stdout, "ok\n");
    assert.ok(!(await readFile(join(work, "secret.tar"))).includes(secret));
    assert.ok(!result.stderr.includes(secret) && !result.stdout.includes(secret));
  });

  test("--target, --no-cache and the plain progress's CACHED marks", { timeout: 180_000 }, async () => {
    const mark = unique();
    await writeTree(join(work, "stages"), {
      Dockerfile: `FROM ${stack.baseImage} AS base\nRUN echo base-${mark} > /base\n\nFROM base AS extra\nRUN echo extra-${mark} > /extra\n`,
    });
    const first = await build(["stages", "--target", "base", "--progress", "plain"]);
    assert.equal(first.code, ExitCode.Ok, first.stderr);
    assert.ok(first.stderr.includes(`base-${mark}`) && !first.stderr.includes(`extra-${mark}`), first.stderr);
    const again = await build(["stages", "--target", "base", "--progress", "plain"]);
    assert.match(again.stderr, new RegExp(`RUN echo base-${mark}[^\\n]*\\n#\\d+ CACHED`));
    const uncached = await build(["stages", "--target", "base", "--no-cache", "--progress", "plain"]);
    assert.equal(uncached.code, ExitCode.Ok, uncached.stderr);
    // The base image's FROM may still say CACHED (sources are not re-fetched); the RUN step runs again.
    assert.doesNotMatch(uncached.stderr, new RegExp(`RUN echo base-${mark}[^\\n]*\\n#\\d+ CACHED`));
    assert.match(uncached.stderr, new RegExp(`RUN echo base-${mark}[^\\n]*\\n(#\\d+ .*\\n)*#\\d+ DONE`));
  });

  // Engine only: buildkitd's OCI worker has no image store, so there is no local copy for --pull to bypass.
  if (daemon.kind === "docker-engine") test("--pull (Engine only, it has an image store) fetches the registry's base even when the Engine has one under that name", { timeout: 300_000 }, async () => {
    const base = `${stack.registry}/bkb-test/cli-pull-${unique()}:latest`;
    localImages.push(base);
    await writeTree(join(work, "pull-v2"), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo v2 > /version\n` });
    await writeTree(join(work, "pull-v1"), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo v1 > /version\n` });
    await writeTree(join(work, "pull-consumer"), { Dockerfile: `FROM ${base}\nRUN cp /version /seen\n` });
    assert.equal((await build(["pull-v2", "-t", base, "--push", "--progress", "quiet"])).code, ExitCode.Ok);
    assert.equal((await build(["pull-v1", "-t", base, "--progress", "quiet"])).code, ExitCode.Ok);
    const plain = await build(["pull-consumer", "-o", "type=local,dest=pull-default", "--progress", "quiet"]);
    assert.equal(plain.code, ExitCode.Ok, plain.stderr);
    assert.equal(await readFile(join(work, "pull-default", "seen"), "utf8"), "v1\n");
    const pulled = await build(["pull-consumer", "--pull", "-o", "type=local,dest=pull-pulled", "--progress", "quiet"]);
    assert.equal(pulled.code, ExitCode.Ok, pulled.stderr);
    assert.equal(await readFile(join(work, "pull-pulled", "seen"), "utf8"), "v2\n");
  });

  const registryCache = daemon.kind === "docker-engine" ? "type=registry on Engine 20.10 fails plainly with exit 1" : "type=registry,mode=max is written to the registry";
  test(`--cache-to type=inline pushes; ${registryCache}`, { timeout: 180_000 }, async () => {
    await writeTree(join(work, "cache"), { Dockerfile: `FROM ${stack.baseImage}\nRUN echo cache-${unique()} > /c\n` });
    const image = `${stack.registry}/bkb-test/cli-cache-${unique()}:1`;
    const inline = await build(["cache", "-t", image, "--push", "--cache-to", "type=inline", "--progress", "quiet", "--json"]);
    assert.equal(inline.code, ExitCode.Ok, inline.stderr);
    assert.match((JSON.parse(inline.stdout) as { digest: string }).digest, /^sha256:/);
    const registry = await build(["cache", "-t", image, "--push", "--cache-to", `type=registry,ref=${image}-cache,mode=max`, "--progress", "quiet"]);
    if (daemon.kind === "docker-engine") {
      assert.equal(registry.code, ExitCode.BuildFailed);
      assert.match(registry.stderr, /can only export an inline cache \(type=inline\), not type=registry/);
    } else {
      assert.equal(registry.code, ExitCode.Ok, registry.stderr);
      const [repository, tag] = image.slice(stack.registry.length + 1).split(":") as [string, string];
      const cache = await readManifest(stack.registry, repository, `${tag}-cache`);
      assert.equal(cache.status, 200, "the cache manifest is in the registry");
      assert.ok((cache.manifest.layers ?? cache.manifest.manifests ?? []).length > 0, "the cache has layers");
    }
  });

  const credentialPath = daemon.kind === "docker-engine" ? "the Engine's push API as X-Registry-Auth" : "buildkitd through the session's Auth service";
  test(`registry credentials from --registry-password-stdin and from Docker's config.json reach ${credentialPath}; the password is never shown`, { timeout: 300_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-cli-auth-registry-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const password = `pw-${unique()}`;
    const registry = await startRegistry({ dir, htpasswd: { username: "ci", password } });
    t.after(() => registry.stop());
    await writeTree(join(work, "auth"), { Dockerfile: `FROM scratch\nCOPY Dockerfile /df-${unique()}\n` });
    const image = `${registry.addr}/bkb-test/auth:1`;

    const anonymous = await build(["auth", "-t", image, "--push", "--progress", "quiet"]);
    assert.equal(anonymous.code, ExitCode.BuildFailed);
    assert.match(anonymous.stderr, /auth|credentials|unauthorized/i);

    const stdin = await build(["auth", "-t", image, "--push", "--registry-host", registry.addr, "--registry-user", "ci", "--registry-password-stdin", "--progress", "plain"], {
      input: `${password}\n`,
    });
    assert.equal(stdin.code, ExitCode.Ok, stdin.stderr);
    assert.match(stdin.stdout, /digest: sha256:/);

    const config = join(work, "dockercfg-auth");
    await mkdir(config);
    await writeFile(join(config, "config.json"), JSON.stringify({ auths: { [registry.addr]: { auth: Buffer.from(`ci:${password}`).toString("base64") } } }));
    const fromConfig = await build(["auth", "-t", `${registry.addr}/bkb-test/auth:2`, "--push", "--progress", "plain", "--json"], { env: { DOCKER_CONFIG: config } });
    assert.equal(fromConfig.code, ExitCode.Ok, fromConfig.stderr);

    for (const output of [anonymous, stdin, fromConfig]) {
      assert.ok(!output.stdout.includes(password) && !output.stderr.includes(password), "the password never appears");
    }
  });
});
