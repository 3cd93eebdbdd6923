/** The shared test stack, as handed to tests through `BKB_TEST_*` variables (see scripts/test.sh). */
export interface TestStack {
  /** `redis://127.0.0.1:<port>` */
  redisUrl: string;
  /** Path of the Docker Engine's unix socket. */
  dockerSocket: string;
  /** `docker-engine://<socket path>`: the Engine's embedded BuildKit. */
  buildkitAddr: string;
  /** `127.0.0.1:<port>`: plain HTTP, no auth. */
  registry: string;
  /** A busybox image in that registry. */
  baseImage: string;
  /**
   * A standalone buildkitd: the stack's own (`tcp://127.0.0.1:<port>`) or the one `BKB_TEST_BUILDKITD_ADDR` named
   * when the stack started. Absent when there was none (see NO_BUILDKITD_HINT).
   */
  buildkitdAddr?: string;
  /** The buildkitd binary the stack found, for tests that start a fresh daemon of their own. */
  buildkitdBinary?: string;
}

const REQUIRED = {
  redisUrl: "BKB_TEST_REDIS_URL",
  dockerSocket: "BKB_TEST_DOCKER_SOCKET",
  buildkitAddr: "BKB_TEST_BUILDKIT_ADDR",
  registry: "BKB_TEST_REGISTRY",
  baseImage: "BKB_TEST_BASE_IMAGE",
} as const;

const OPTIONAL = {
  buildkitdAddr: "BKB_TEST_BUILDKITD_ADDR",
  buildkitdBinary: "BKB_TEST_BUILDKITD_BIN",
} as const;

/** Every variable the env file sets for tests; scripts/test.sh exports exactly these. */
export const TEST_STACK_VARIABLES = [...Object.values(REQUIRED), ...Object.values(OPTIONAL), "STACK_ROOT"] as const;

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
  const stack: TestStack = {
    redisUrl: read(REQUIRED.redisUrl),
    dockerSocket: read(REQUIRED.dockerSocket),
    buildkitAddr: read(REQUIRED.buildkitAddr),
    registry: read(REQUIRED.registry),
    baseImage: read(REQUIRED.baseImage),
  };
  if (env[OPTIONAL.buildkitdAddr]) stack.buildkitdAddr = env[OPTIONAL.buildkitdAddr];
  if (env[OPTIONAL.buildkitdBinary]) stack.buildkitdBinary = env[OPTIONAL.buildkitdBinary];
  return stack;
}

/**
 * Shell `export` lines for a stack, in the format of `<root>/env`: the `BKB_TEST_*` variables for tests, and the
 * variables the app and the CLI read (`BUILDKIT_HOST`, `BUILDKIT_BOT_REDIS_URL`, `BUILDKIT_BOT_REGISTRY`), so that
 * sourcing the file is enough to run either against the stack. `BUILDKIT_HOST` is the standalone buildkitd when
 * there is one, as in production, and the Engine otherwise.
 */
export function stackEnvLines(stack: TestStack, root: string): string {
  const entries: Array<[string, string | undefined]> = [
    ...Object.entries(REQUIRED).map(([key, name]) => [name, stack[key as keyof typeof REQUIRED]] as [string, string]),
    ...Object.entries(OPTIONAL).map(([key, name]) => [name, stack[key as keyof typeof OPTIONAL]] as [string, string | undefined]),
    ["STACK_ROOT", root],
    ["BUILDKIT_HOST", stack.buildkitdAddr ?? stack.buildkitAddr],
    ["BUILDKIT_BOT_REDIS_URL", stack.redisUrl],
    ["BUILDKIT_BOT_REGISTRY", stack.registry],
  ];
  return entries
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join("");
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
