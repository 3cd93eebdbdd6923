import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { BuildConfig, BuildKitClient } from "../../src/buildkit/index.js";
import { buildkitdDaemon } from "../support/daemons.js";
import { REPO_ROOT } from "./compose-model.js";

/** Issue 13: what the app's image is built from and runs as. */

async function listFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(relative(root, path));
  }
  return out.sort();
}

describe("the app's image", () => {
  const daemon = buildkitdDaemon();
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bkb-image-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs on node:26-bookworm-slim as the node user, with the memory flags", async () => {
    const dockerfile = await readFile(join(REPO_ROOT, "Dockerfile"), "utf8");
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(froms, ["node:26-bookworm-slim", "node:26-bookworm-slim"]);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(users, ["node"], "the runtime stage's non-root user (uid 1000 in the node image)");
    assert.ok(dockerfile.lastIndexOf("USER node") < dockerfile.lastIndexOf("CMD "), "USER comes before CMD");
    assert.match(dockerfile, /^CMD \["node", "--max-semi-space-size=4", "--max-old-space-size=128", "dist\/app\/main\.js"\]/m);
  });

  it("the build context leaves out .env and key files (.dockerignore, as BuildKit receives the context)", { skip: daemon.skip, timeout: 120_000 }, async () => {
    const context = join(dir, "context");
    await mkdir(join(context, "src", "app"), { recursive: true });
    await copyFile(join(REPO_ROOT, ".dockerignore"), join(context, ".dockerignore"));
    const files: Record<string, string> = {
      ".env": "APP_ID=1\nWEBHOOK_SECRET=s3cret\n",
      ".env.production": "WEBHOOK_SECRET=s3cret\n",
      "github-app.private-key.pem": "-----BEGIN RSA PRIVATE KEY-----\n",
      "package.json": "{}\n",
      "app.yml": "name: x\n",
      "src/app/main.ts": "export {};\n",
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(context, name), text);
    const dockerfile = join(dir, "Dockerfile");
    await writeFile(dockerfile, "FROM scratch\nCOPY . /context/\n");
    const out = join(dir, "out");
    const client = await BuildKitClient.connect(daemon.address);
    try {
      await client.solve(BuildConfig.local(context).dockerfile(dockerfile).output({ type: "local", dest: out }).build());
    } finally {
      await client.close();
    }
    assert.deepEqual(await listFiles(join(out, "context")), [".dockerignore", "app.yml", "package.json", "src/app/main.ts"]);
  });
});
