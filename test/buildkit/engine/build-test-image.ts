import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Test setup only: builds a one-file `FROM scratch` image into the Engine at `socket` under `tags`, with the Engine's
 * own CLI (/usr/bin/docker, BuildKit mode). Distinct `content` gives a distinct image.
 */
export async function buildTestImage(socket: string, tags: string[], content: string): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "bkb-test-image-"));
  try {
    await writeFile(path.join(dir, "Dockerfile"), "FROM scratch\nCOPY content.txt /content.txt\n");
    await writeFile(path.join(dir, "content.txt"), content);
    await run("/usr/bin/docker", ["build", "-q", ...tags.flatMap((t) => ["-t", t]), dir], {
      env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: "1" },
      timeout: 120_000,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
