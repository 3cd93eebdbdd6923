/** The shared test stack, as handed to tests through `BKB_TEST_*` variables (see scripts/test.sh). */
export interface TestStack {
  /** `redis://127.0.0.1:<port>` */
  redisUrl: string;
  /** Path of the Docker Engine's unix socket. */
  dockerSocket: string;
  /** `docker-engine://<socket path>` */
  buildkitAddr: string;
  /** `127.0.0.1:<port>`: plain HTTP, no auth. */
  registry: string;
  /** A busybox image in that registry. */
  baseImage: string;
}

const VARIABLES = {
  redisUrl: "BKB_TEST_REDIS_URL",
  dockerSocket: "BKB_TEST_DOCKER_SOCKET",
  buildkitAddr: "BKB_TEST_BUILDKIT_ADDR",
  registry: "BKB_TEST_REGISTRY",
  baseImage: "BKB_TEST_BASE_IMAGE",
} as const satisfies Record<keyof TestStack, string>;

export function testStack(env: NodeJS.ProcessEnv = process.env): TestStack {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) {
      throw new Error(
        `${name} is not set: run integration tests through scripts/test.sh, or source a stack's env file (bash scripts/stack.sh start)`,
      );
    }
    return value;
  };
  return {
    redisUrl: read(VARIABLES.redisUrl),
    dockerSocket: read(VARIABLES.dockerSocket),
    buildkitAddr: read(VARIABLES.buildkitAddr),
    registry: read(VARIABLES.registry),
    baseImage: read(VARIABLES.baseImage),
  };
}

/** Shell `export` lines for a stack, in the format of `<root>/env`. */
export function stackEnvLines(stack: TestStack, root: string): string {
  const entries: Array<[string, string]> = [
    ...Object.entries(VARIABLES).map(([key, name]) => [name, stack[key as keyof TestStack]] as [string, string]),
    ["STACK_ROOT", root],
  ];
  return entries.map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join("");
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
