import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "./run-command.js";

export const DOCKER_CLI = "/usr/bin/docker";
const BUSYBOX = "/bin/busybox";

/** Environment for the Debian docker CLI talking to one Engine, with a config dir of its own. */
export function dockerCliEnv(socket: string, configDir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: configDir,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_BUILDKIT: "1",
    DOCKER_CONFIG: configDir,
  };
}

/**
 * Builds a busybox image `FROM scratch` out of Debian's busybox-static (every applet linked in /bin, PATH=/bin)
 * on the Engine at `socket`, pushes it as `<registry>/busybox:latest` and returns that reference.
 */
export async function pushBaseImage(opts: { socket: string; registry: string; workDir: string }): Promise<string> {
  const ref = `${opts.registry}/busybox:latest`;
  await mkdir(opts.workDir, { recursive: true });
  const context = await mkdtemp(join(opts.workDir, "base-image-"));
  try {
    const bin = join(context, "rootfs", "bin");
    await mkdir(bin, { recursive: true });
    await copyFile(BUSYBOX, join(bin, "busybox"));
    await chmod(join(bin, "busybox"), 0o755);
    const applets = (await runCommand(BUSYBOX, ["--list"])).split("\n").map((name) => name.trim());
    for (const applet of applets) {
      if (applet && applet !== "busybox" && !applet.includes("/")) await symlink("busybox", join(bin, applet));
    }
    for (const dir of ["tmp", "etc", "root"]) await mkdir(join(context, "rootfs", dir), { recursive: true });
    await chmod(join(context, "rootfs", "tmp"), 0o1777);
    await writeFile(join(context, "rootfs", "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    await writeFile(join(context, "rootfs", "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
    await writeFile(join(context, "Dockerfile"), "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n");

    const env = dockerCliEnv(opts.socket, join(opts.workDir, "docker-cli"));
    await runCommand(DOCKER_CLI, ["build", "--quiet", "--tag", ref, context], { env });
    await runCommand(DOCKER_CLI, ["push", "--quiet", ref], { env });
    return ref;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
