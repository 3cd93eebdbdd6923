import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AppConfigError, loadAppConfig } from "../../src/app/app-config.js";
import { BuildersFileError, parseBuildersFile, readBuildersFile, singleBuilder } from "../../src/builders/index.js";
import { createAppCredentials } from "../support/fake-github/app-credentials.js";

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const EXAMPLE = join(REPO_ROOT, "deploy", "builders.example.yml");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-builders-file-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The `file:line: reason` lines a text is refused with. */
function refusal(text: string, path = "/etc/bkb/builders.yml"): string[] {
  try {
    parseBuildersFile(text, path);
  } catch (err) {
    assert.ok(err instanceof BuildersFileError, String(err));
    return err.message.split("\n");
  }
  assert.fail("the file was accepted");
}

describe("the shipped example", () => {
  it("is valid once its TLS files exist, and reads as the pool it describes", async () => {
    const copy = join(dir, "example", "builders.yml");
    await mkdir(join(dir, "example", "tls"), { recursive: true });
    await copyFile(EXAMPLE, copy);
    for (const f of ["ca.pem", "client-cert.pem", "client-key.pem"]) await writeFile(join(dir, "example", "tls", f), "pem");
    const config = readBuildersFile(copy);
    assert.equal(config.source, copy);
    assert.equal(config.healthIntervalMs, 10_000);
    assert.equal(config.failuresBeforeUnavailable, 2);
    assert.deepEqual(
      config.builders.map((b) => [b.name, b.address, b.maxConcurrentBuilds, b.platforms]),
      [
        ["local", "unix:///run/buildkit/buildkitd.sock", 4, undefined],
        ["arm-1", "tcp://arm-1.builders.internal:1234", 2, ["linux/arm64"]],
        ["engine", "docker-engine:///var/run/docker.sock", undefined, undefined],
      ],
    );
    const arm = config.builders[1]!;
    assert.deepEqual(arm.tls, {
      caFile: join(dir, "example", "tls", "ca.pem"),
      certFile: join(dir, "example", "tls", "client-cert.pem"),
      keyFile: join(dir, "example", "tls", "client-key.pem"),
      serverName: "arm-1.builders.internal",
    });
    assert.deepEqual(arm.labels, { zone: "eu-west-1b", arch: "arm64" });
    assert.equal(arm.tlsFromEnv, false);
  });

  it("names each missing TLS file with its line", () => {
    const lines = (() => {
      try {
        readBuildersFile(EXAMPLE);
      } catch (err) {
        assert.ok(err instanceof BuildersFileError);
        return err.message.split("\n");
      }
      assert.fail("accepted");
    })();
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, new RegExp(`^${EXAMPLE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:21: builders\\[1\\]\\.tls\\.ca: .*/deploy/tls/ca\\.pem cannot be read \\(ENOENT\\)$`));
  });
});

describe("a builders file with mistakes", () => {
  const one = (extra: string): string => `builders:\n  - name: a\n    address: tcp://10.0.0.1:1234\n${extra}`;

  it("refuses each kind of mistake with file:line: reason", () => {
    const cases: Array<[string, string]> = [
      ["", "/etc/bkb/builders.yml:1: the file is empty: it needs a `builders` list"],
      ["builders: [\n", "/etc/bkb/builders.yml:2: YAML syntax error"],
      ["builders: []\n", '/etc/bkb/builders.yml:1: builders: needs at least 1 entry'],
      ["pool: []\n", '/etc/bkb/builders.yml:1: missing required key "builders"'],
      ["builders:\n  - address: tcp://h:1\n", '/etc/bkb/builders.yml:2: builders[0]: missing required key "name"'],
      ["builders:\n  - name: a\n", '/etc/bkb/builders.yml:2: builders[0]: missing required key "address"'],
      ["builders:\n  - name: Big Name\n    address: tcp://h:1\n", '/etc/bkb/builders.yml:2: builders[0].name: "Big Name" must be 1 to 63 lowercase letters'],
      ["builders:\n  - name: a\n    address: http://h:1\n", '/etc/bkb/builders.yml:3: builders[0].address: "http://h:1" must be tcp://<host>:<port>, unix:///<path> or docker-engine:///<socket path>'],
      ["builders:\n  - name: a\n    address: tcp://h\n", "/etc/bkb/builders.yml:3: builders[0].address: \"tcp://h\" must be tcp://"],
      [one("    max_concurrent_builds: 0\n"), "/etc/bkb/builders.yml:4: builders[0].max_concurrent_builds: must be at least 1 (got 0)"],
      [one("    max_concurrent_builds: two\n"), "/etc/bkb/builders.yml:4: builders[0].max_concurrent_builds: must be integer (got string)"],
      [one("    platforms: [linux]\n"), '/etc/bkb/builders.yml:4: builders[0].platforms[0]: "linux" must be os/arch[/variant]'],
      [one("    platforms: [linux/amd64, linux/amd64]\n"), "/etc/bkb/builders.yml:4: builders[0].platforms: lists the same value twice"],
      [one("    platforms: []\n"), "/etc/bkb/builders.yml:4: builders[0].platforms: needs at least 1 entry"],
      [one("    colour: blue\n"), "/etc/bkb/builders.yml:4: builders[0].colour: unknown key; allowed keys: name, address, tls, labels, max_concurrent_builds, platforms"],
      [one("    tls: { ca: ca.pem, password: x }\n"), "/etc/bkb/builders.yml:4: builders[0].tls.password: unknown key; allowed keys: ca, cert, key, server_name"],
      [one("    tls: { cert: c.pem }\n"), "/etc/bkb/builders.yml:4: builders[0].tls: `cert` and `key` go together (mutual TLS)"],
      [one("    labels: { zone: 3 }\n"), "/etc/bkb/builders.yml:4: builders[0].labels.zone: must be string (got number)"],
      ["builders:\n  - name: a\n    address: unix:///s\n    tls: { ca: ca.pem }\n", "/etc/bkb/builders.yml:4: builders[0].tls: TLS applies only to tcp:// addresses"],
      [`${one("")}  - name: a\n    address: tcp://10.0.0.2:1234\n`, '/etc/bkb/builders.yml:4: builders[1].name: "a" is already the name of builders[0] (line 2)'],
      [`${one("")}  - name: b\n    address: tcp://10.0.0.1:1234\n`, "/etc/bkb/builders.yml:5: builders[1].address: tcp://10.0.0.1:1234 is already the address of builders[0] (line 2)"],
      [`${one("")}health: { interval_seconds: 0 }\n`, "/etc/bkb/builders.yml:4: health.interval_seconds: must be at least 0.1 (got 0)"],
      [`${one("")}health: { failures_before_unavailable: 1.5 }\n`, "/etc/bkb/builders.yml:4: health.failures_before_unavailable: must be integer (got number)"],
      ["builders: {}\n", "/etc/bkb/builders.yml:1: builders: must be array (got object)"],
      ["builders:\n  - name: a\n    name: b\n    address: tcp://h:1\n", "/etc/bkb/builders.yml:3: YAML syntax error: Map keys must be unique"],
    ];
    const wrong: string[] = [];
    for (const [text, expected] of cases) {
      const lines = refusal(text);
      if (!lines.some((l) => l.startsWith(expected))) wrong.push(`${JSON.stringify(text)}\n  expected: ${expected}\n  got: ${lines.join("\n       ")}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("lists every problem, in file order", () => {
    const lines = refusal("builders:\n  - name: a\n    address: ftp://x\n  - name: b\n    address: tcp://h:1\n    max_concurrent_builds: -1\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /:3: builders\[0\]\.address/);
    assert.match(lines[1]!, /:6: builders\[1\]\.max_concurrent_builds/);
  });

  it("accepts x- keys for anchors, and defaults the health settings", () => {
    const config = parseBuildersFile("x-tls: &tls { ca: /x/ca.pem }\nbuilders:\n  - name: a\n    address: tcp://h:1\n    tls: *tls\n", "/b.yml");
    assert.deepEqual(config.builders[0]!.tls, { caFile: "/x/ca.pem" });
    assert.equal(config.healthIntervalMs, 10_000);
  });
});

describe("BUILDKIT_BOT_BUILDERS_FILE in the app config", () => {
  const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:6379", BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000", ...extra });

  it("without it, BUILDKIT_HOST is a pool of one (with BUILDKIT_TLS_* as before)", () => {
    const config = loadAppConfig(env({ BUILDKIT_HOST: "tcp://10.1.1.1:1234" }));
    assert.deepEqual(config.builders, singleBuilder("tcp://10.1.1.1:1234"));
    assert.equal(config.builders.builders[0]!.tlsFromEnv, true);
  });

  it("with it, the file's builders; a mistake is an AppConfigError naming the variable, file and line", async () => {
    const good = join(dir, "good.yml");
    await writeFile(good, "builders:\n  - name: one\n    address: tcp://10.0.0.1:1234\n  - name: two\n    address: unix:///run/b.sock\n");
    const config = loadAppConfig(env({ BUILDKIT_BOT_BUILDERS_FILE: good }));
    assert.deepEqual(config.builders.builders.map((b) => b.name), ["one", "two"]);
    assert.deepEqual((config.describe().builders as Array<{ name: string }>).map((b) => b.name), ["one", "two"]);

    const bad = join(dir, "bad.yml");
    await writeFile(bad, "builders:\n  - name: one\n    address: tcp://10.0.0.1\n");
    assert.throws(
      () => loadAppConfig(env({ BUILDKIT_BOT_BUILDERS_FILE: bad })),
      (err: unknown) => err instanceof AppConfigError && err.variable === "BUILDKIT_BOT_BUILDERS_FILE" && err.message.startsWith(`BUILDKIT_BOT_BUILDERS_FILE: ${bad}:3: builders[0].address`),
    );
    assert.throws(
      () => loadAppConfig(env({ BUILDKIT_BOT_BUILDERS_FILE: join(dir, "missing.yml") })),
      (err: unknown) => err instanceof AppConfigError && err.message.includes("missing.yml:1: cannot be read (ENOENT)"),
    );
  });

  it("an invalid file stops the app at start-up with exit 1 and file:line: reason", { timeout: 60_000 }, async () => {
    const creds = createAppCredentials(7401);
    const bad = join(dir, "start.yml");
    await writeFile(bad, "builders:\n  - name: one\n    address: tcp://10.0.0.1:1234\n    max_concurrent_builds: 0\n");
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        APP_ID: String(creds.appId),
        PRIVATE_KEY: creds.privateKeyPem,
        BUILDKIT_BOT_ROLE: "worker",
        BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:1",
        BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000",
        BUILDKIT_BOT_BUILDERS_FILE: bad,
        LOG_FORMAT: "json",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, output);
    assert.ok(output.includes(`BUILDKIT_BOT_BUILDERS_FILE: ${bad}:4: builders[0].max_concurrent_builds: must be at least 1 (got 0)`), output);
  });
});
