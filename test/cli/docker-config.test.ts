import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerConfigPath, readDockerConfigCredentials, registryHostOfConfigKey } from "../../src/cli/docker-config.js";
import type { BuildCommand } from "../../src/cli/cli-command.js";
import { parseCommandLine } from "../../src/cli/parse-command.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

async function configDir(t: { after(fn: () => Promise<void>): void }, config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-dockercfg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return dir;
}

test("inline auths are read; helpers and identity tokens are noted, never their secrets", async (t) => {
  const dir = await configDir(t, {
    auths: {
      "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
      "ghcr.io": { auth: b64("octo:ghp_token") },
      "127.0.0.1:5000": { username: "local", password: "pw" },
      "https://registry.example.com/v2/": { identitytoken: "idt_secret" },
      "empty.example.com": {},
    },
    credsStore: "desktop",
    credHelpers: { "123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login" },
  });
  const result = await readDockerConfigCredentials({ DOCKER_CONFIG: dir }, "/nonexistent-home");
  assert.equal(result.path, join(dir, "config.json"));
  assert.deepEqual(result.credentials, [
    { host: "registry-1.docker.io", username: "hubuser", password: "hub:pass" },
    { host: "ghcr.io", username: "octo", password: "ghp_token" },
    { host: "127.0.0.1:5000", username: "local", password: "pw" },
  ]);
  assert.equal(result.notes.length, 3);
  assert.match(result.notes[0] as string, /credential store "desktop", which is not used/);
  assert.match(result.notes[1] as string, /credential helpers for 123\.dkr\.ecr\.us-east-1\.amazonaws\.com/);
  assert.match(result.notes[2] as string, /identity token for registry\.example\.com is not supported/);
  assert.ok(!result.notes.join("\n").includes("idt_secret"));
});

test("config location: DOCKER_CONFIG, else ~/.docker; missing is fine, broken JSON is a note", async (t) => {
  assert.equal(dockerConfigPath({}, "/home/me"), "/home/me/.docker/config.json");
  assert.equal(dockerConfigPath({ DOCKER_CONFIG: "/etc/dc" }, "/home/me"), "/etc/dc/config.json");

  const home = await mkdtemp(join(tmpdir(), "bkb-home-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  assert.deepEqual((await readDockerConfigCredentials({}, home)).credentials, []);
  await mkdir(join(home, ".docker"));
  await writeFile(join(home, ".docker", "config.json"), JSON.stringify({ auths: { "r.example": { auth: b64("u:p") } } }));
  assert.deepEqual((await readDockerConfigCredentials({}, home)).credentials, [{ host: "r.example", username: "u", password: "p" }]);

  const broken = await configDir(t, "{ not json");
  const result = await readDockerConfigCredentials({ DOCKER_CONFIG: broken }, home);
  assert.deepEqual(result.credentials, []);
  assert.match(result.notes[0] as string, /not valid JSON/);
});

test("config keys map to the host the daemon dials", () => {
  assert.equal(registryHostOfConfigKey("https://index.docker.io/v1/"), "registry-1.docker.io");
  assert.equal(registryHostOfConfigKey("docker.io"), "registry-1.docker.io");
  assert.equal(registryHostOfConfigKey("https://GHCR.io"), "ghcr.io");
  assert.equal(registryHostOfConfigKey("localhost:5000"), "localhost:5000");
});

test("the build command merges docker config credentials under explicit flags", async (t) => {
  const dir = await configDir(t, {
    auths: { "127.0.0.1:5000": { auth: b64("fromconfig:old") }, "ghcr.io": { auth: b64("octo:tok") } },
    credsStore: "osxkeychain",
  });
  const context = await mkdtemp(join(tmpdir(), "bkb-ctx-"));
  t.after(() => rm(context, { recursive: true, force: true }));
  const command = (await parseCommandLine(
    ["build", "local", context, "--registry-host", "127.0.0.1:5000", "--registry-user", "ci", "--registry-password-stdin"],
    { env: { DOCKER_CONFIG: dir }, readStdin: async () => "new\r\n" },
  )) as BuildCommand;
  assert.deepEqual(command.request.registryAuth, [
    { host: "127.0.0.1:5000", username: "ci", password: "new" },
    { host: "ghcr.io", username: "octo", password: "tok" },
  ]);
  assert.equal(command.notes.length, 1);
  assert.match(command.notes[0] as string, /osxkeychain/);
});
