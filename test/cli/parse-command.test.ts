import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildCommand } from "../../src/cli/cli-command.js";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { DEFAULT_ADDR, parseCommandLine, parseRepositoryUrl } from "../../src/cli/parse-command.js";
import type { ParseEnvironment } from "../../src/cli/parse-command.js";
import { UsageError } from "../../src/cli/usage-error.js";

async function workspace(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), "bkb-cli-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "app"));
  await writeFile(join(root, "app", "Dockerfile"), "FROM scratch\n");
  await mkdir(join(root, "docker"));
  await writeFile(join(root, "docker", "prod.Dockerfile"), "FROM scratch\n");
  await writeFile(join(root, "npmrc"), "//registry/:_authToken=s3cret\n");
  // An empty docker config dir, so the developer's own ~/.docker never leaks into a test.
  await mkdir(join(root, "dockercfg"));
  const environment: ParseEnvironment = {
    cwd: root,
    homedir: join(root, "home"),
    env: { DOCKER_CONFIG: join(root, "dockercfg"), NPM_TOKEN: "from-env", HTTP_PROXY: "http://proxy:3128" },
    readStdin: async () => "hunter2\n",
  };
  return { root, environment };
}

async function build(argv: string[], environment: ParseEnvironment): Promise<BuildCommand> {
  const command = await parseCommandLine(argv, environment);
  assert.equal(command.kind, "build");
  return command as BuildCommand;
}

async function usageError(argv: string[], environment: ParseEnvironment, flag: string | undefined, message: RegExp): Promise<void> {
  await assert.rejects(parseCommandLine(argv, environment), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.Usage);
    assert.equal(error.flag, flag);
    assert.match(error.message, message);
    return true;
  });
}

test("build local with every flag", async (t) => {
  const { root, environment } = await workspace(t);
  const command = await build(
    [
      "build", "local", "--context", "app", "-f", "docker/prod.Dockerfile",
      "-t", "127.0.0.1:5000/app:1", "--tag=127.0.0.1:5000/app:latest",
      "--build-arg", "VERSION=1.2=3", "--build-arg", "HTTP_PROXY", "--build-arg", "UNSET_ARG",
      "--target", "runtime",
      "--label", "org.opencontainers.image.source=https://example.com", "--label", "empty",
      "--platform", "linux/amd64", "--platform", "linux/arm64,linux/arm/v7", "--platform", "linux/amd64",
      "--secret", "id=npmrc,src=npmrc", "--secret", "id=token,env=NPM_TOKEN", "--secret", "id=NPM_TOKEN",
      "--cache-from", "type=registry,ref=127.0.0.1:5000/app:cache", "--cache-from", "127.0.0.1:5000/app:old",
      "--cache-to", "type=registry,ref=127.0.0.1:5000/app:cache,mode=max", "--cache-to", "type=inline",
      "--no-cache", "--pull", "--push",
      "--registry-host", "127.0.0.1:5000", "--registry-user", "ci", "--registry-password-stdin",
      "--progress", "plain", "--json", "--addr", "tcp://buildkitd:1234",
    ],
    environment,
  );
  assert.equal(command.addr, "tcp://buildkitd:1234");
  assert.equal(command.progress, "plain");
  assert.equal(command.json, true);
  const { request } = command;
  assert.deepEqual(request.context, { type: "local", dir: join(root, "app"), dockerfileDir: join(root, "docker") });
  assert.equal(request.dockerfile, "prod.Dockerfile");
  assert.deepEqual(request.buildArgs, { VERSION: "1.2=3", HTTP_PROXY: "http://proxy:3128" });
  assert.equal(request.target, "runtime");
  assert.deepEqual(request.labels, { "org.opencontainers.image.source": "https://example.com", empty: "" });
  assert.deepEqual(request.platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
  assert.deepEqual(
    Object.fromEntries(Object.entries(request.secrets ?? {}).map(([k, v]) => [k, v.toString()])),
    { npmrc: "//registry/:_authToken=s3cret\n", token: "from-env", NPM_TOKEN: "from-env" },
  );
  assert.deepEqual(request.cacheImports, [
    { type: "registry", attrs: { ref: "127.0.0.1:5000/app:cache" } },
    { type: "registry", attrs: { ref: "127.0.0.1:5000/app:old" } },
  ]);
  assert.deepEqual(request.cacheExports, [{ type: "registry", attrs: { ref: "127.0.0.1:5000/app:cache", mode: "max" } }, { type: "inline" }]);
  assert.equal(request.noCache, true);
  assert.equal(request.pull, true);
  assert.deepEqual(request.output, { type: "image", names: ["127.0.0.1:5000/app:1", "127.0.0.1:5000/app:latest"], push: true });
  assert.deepEqual(request.registryAuth, [{ host: "127.0.0.1:5000", username: "ci", password: "hunter2" }]);
  assert.deepEqual(command.notes, []);
});

test("build local defaults: positional context, BUILDKIT_HOST, auto progress, no output", async (t) => {
  const { root, environment } = await workspace(t);
  const command = await build(["build", "local", "app"], { ...environment, env: { ...environment.env, BUILDKIT_HOST: "docker-engine:///var/run/docker.sock" } });
  assert.equal(command.addr, "docker-engine:///var/run/docker.sock");
  assert.equal(command.progress, "auto");
  assert.equal(command.json, false);
  assert.deepEqual(command.request, { context: { type: "local", dir: join(root, "app") } });
  const fallback = await build(["build", "local", "--context", "app", "-t", "app:dev"], environment);
  assert.equal(fallback.addr, DEFAULT_ADDR);
  assert.deepEqual(fallback.request.output, { type: "image", names: ["app:dev"], push: false });
});

test("outputs: local, tar (file and stdout), image with push=true and registry.insecure", async (t) => {
  const { root, environment } = await workspace(t);
  const local = await build(["build", "local", "app", "--output", "type=local,dest=out"], environment);
  assert.deepEqual(local.request.output, { type: "local", dest: join(root, "out") });
  const tar = await build(["build", "local", "app", "-o", "type=tar,dest=image.tar"], environment);
  assert.deepEqual(tar.request.output, { type: "tar", dest: join(root, "image.tar") });
  const stdout = await build(["build", "local", "app", "-o", "type=tar,dest=-"], environment);
  assert.deepEqual(stdout.request.output, { type: "tar", dest: "-" });
  const image = await build(["build", "local", "app", "-t", "r:5000/a", "--output", "type=image,push=true,registry.insecure=true"], environment);
  assert.deepEqual(image.request.output, { type: "image", names: ["r:5000/a"], push: true, insecure: true });
  const named = await build(["build", "local", "app", "--output", 'type=registry,"name=r/a:1,r/a:2"'], environment);
  assert.deepEqual(named.request.output, { type: "image", names: ["r/a:1", "r/a:2"], push: true });
});

test("build github: URL forms, fragment, ref/subdir flags and the token", async (t) => {
  const { environment } = await workspace(t);
  const command = await build(
    ["build", "github", "https://github.com/acme/app", "--git-ref", "v1.2.0", "--subdir", "services/api", "-f", "Dockerfile.prod", "--token", "ghs_x"],
    environment,
  );
  assert.deepEqual(command.request.context, { type: "git", remote: "https://github.com/acme/app.git", ref: "v1.2.0", subdir: "services/api" });
  assert.equal(command.request.dockerfile, "Dockerfile.prod");
  assert.equal(command.request.gitAuthToken, "ghs_x");

  const fromEnv = await build(["build", "github", "acme/app"], { ...environment, env: { ...environment.env, GITHUB_TOKEN: "ghs_env" } });
  assert.deepEqual(fromEnv.request.context, { type: "git", remote: "https://github.com/acme/app.git", ref: "HEAD" });
  assert.equal(fromEnv.request.gitAuthToken, "ghs_env");

  assert.deepEqual(parseRepositoryUrl("https://github.com/acme/app.git#main:web"), { remote: "https://github.com/acme/app.git", ref: "main", subdir: "web" });
  assert.deepEqual(parseRepositoryUrl("http://127.0.0.1:8080/o/r.git/"), { remote: "http://127.0.0.1:8080/o/r.git" });
});

test("--help on every command", async () => {
  for (const argv of [["--help"], ["help"], ["-h"], ["health", "--help"], ["build", "--help"], ["build"], ["build", "local", "--help"], ["build", "github", "-h"]]) {
    const command = await parseCommandLine(argv, { env: {} });
    assert.equal(command.kind, "help", argv.join(" "));
    assert.match((command as { text: string }).text, /^Usage:/m);
  }
  const local = await parseCommandLine(["build", "local", "--help"], { env: {} });
  assert.match((local as { text: string }).text, /--context DIR/);
  const health = await parseCommandLine(["health", "--json", "--addr", "unix:///x.sock"], { env: {} });
  assert.deepEqual(health, { kind: "health", addr: "unix:///x.sock", json: true });
});

test("usage errors name the bad flag and exit with 2", async (t) => {
  const { environment } = await workspace(t);
  const local = ["build", "local", "app"];
  await usageError([], environment, undefined, /missing command/);
  await usageError(["deploy"], environment, undefined, /unknown command "deploy"/);
  await usageError(["build", "remote"], environment, undefined, /build needs a source/);
  await usageError([...local, "--frobnicate"], environment, "--frobnicate", /unknown flag --frobnicate/);
  await usageError([...local, "-x"], environment, "-x", /unknown flag -x/);
  await usageError([...local, "--target"], environment, "--target", /--target needs a value/);
  await usageError([...local, "--target", "a", "--target", "b"], environment, "--target", /only once/);
  await usageError([...local, "--push=yes"], environment, "--push", /takes no value/);
  await usageError(["build", "local"], environment, "--context", /needs --context/);
  await usageError(["build", "local", "--context", "missing"], environment, "--context", /not a directory/);
  await usageError([...local, "--file", "nope/Dockerfile"], environment, "--file", /no such file/);
  await usageError([...local, "--git-ref", "main"], environment, "--git-ref", /unknown flag/);
  await usageError(["build", "github", "acme/app", "--context", "."], environment, "--context", /unknown flag/);
  await usageError([...local, "--build-arg", "=x"], environment, "--build-arg", /NAME=VALUE/);
  await usageError([...local, "--label", "=x"], environment, "--label", /KEY=VALUE/);
  await usageError([...local, "--platform", "amd64"], environment, "--platform", /os\/arch/);
  await usageError([...local, "--secret", "src=npmrc"], environment, "--secret", /id=ID is required/);
  await usageError([...local, "--secret", "id=x,src=missing"], environment, "--secret", /cannot read missing/);
  await usageError([...local, "--secret", "id=x,env=NOPE"], environment, "--secret", /NOPE is not set/);
  await usageError([...local, "--secret", "id=x,mode=0400"], environment, "--secret", /unknown key "mode"/);
  await usageError([...local, "--cache-from", "type=inline"], environment, "--cache-from", /export-only/);
  await usageError([...local, "--cache-to", "type=registry"], environment, "--cache-to", /needs ref/);
  await usageError([...local, "--cache-to", "type=gha"], environment, "--cache-to", /unsupported cache type "gha"/);
  await usageError([...local, "--cache-to", "type=registry,ref=r/a,mode=all"], environment, "--cache-to", /mode must be min or max/);
  await usageError([...local, "--push"], environment, "--push", /needs at least one --tag/);
  await usageError([...local, "--push", "-o", "type=local,dest=out"], environment, "--push", /cannot be combined/);
  await usageError([...local, "-t", "a", "-o", "type=tar,dest=x.tar"], environment, "--tag", /only applies to image outputs/);
  await usageError([...local, "-o", "type=local"], environment, "--output", /needs dest=DIR/);
  await usageError([...local, "-o", "type=oci,dest=x"], environment, "--output", /unsupported type "oci"/);
  await usageError([...local, "-o", "dest=x"], environment, "--output", /type= is required/);
  await usageError([...local, "-t", "Bad Name"], environment, "--tag", /not a valid image name/);
  await usageError([...local, "--progress", "fancy"], environment, "--progress", /one of auto, plain, json, quiet/);
  await usageError([...local, "--registry-host", "r:5000"], environment, "--registry-user", /--registry-user and --registry-password-stdin/);
  await usageError(
    [...local, "--registry-host", "r", "--registry-user", "u", "--registry-password-stdin"],
    { ...environment, readStdin: async () => "\n" },
    "--registry-password-stdin",
    /stdin was empty/,
  );
  await usageError(["build", "github"], environment, undefined, /needs a repository URL/);
  await usageError(["build", "github", "https://x-access-token:ghs_secret@github.com/a/b"], environment, "--token", /must not contain credentials/);
  await usageError(["build", "github", "acme/app", "--git-ref", "a b"], environment, "--git-ref", /not a valid ref/);
  await usageError(["build", "github", "acme/app", "--subdir", "../etc"], environment, "--subdir", /inside the repository/);
  await usageError(["health", "--addr="], environment, "--addr", /must not be empty/);
});

test("a UsageError message never echoes the secret it failed on", async (t) => {
  const { environment } = await workspace(t);
  await assert.rejects(
    parseCommandLine(["build", "github", "https://u:ghs_supersecret@github.com/a/b"], environment),
    (error: Error) => !error.message.includes("ghs_supersecret"),
  );
});
