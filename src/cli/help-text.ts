export const MAIN_HELP = `Usage: buildkit-bot <command> [flags]

Build container images with BuildKit (a standalone buildkitd or a Docker Engine).

Commands:
  health                  Check that the daemon answers; show its version and workers
  build local             Build a directory on this machine
  build github URL        Build a GitHub (or any https git) repository

Global flags:
  --addr ADDR             Daemon address (default: $BUILDKIT_HOST, else unix:///run/buildkit/buildkitd.sock),
                          e.g. docker-engine:///var/run/docker.sock, tcp://host:1234
  --help, -h              Show help for a command

Exit codes: 0 ok, 1 build failed, 2 usage error, 3 daemon unreachable.
`;

export const HEALTH_HELP = `Usage: buildkit-bot health [--addr ADDR] [--json]

Connects to the daemon and prints which daemon it is, its version and its workers.

Flags:
  --addr ADDR             Daemon address (default: $BUILDKIT_HOST)
  --json                  Print the result as one JSON object on stdout
`;

const BUILD_FLAGS = `Image and build flags:
  --tag, -t NAME          Image name (repeatable)
  --build-arg K=V         Build argument (repeatable); K alone takes the value from the environment
  --target STAGE          Build only up to this stage
  --label K=V             Image label (repeatable)
  --platform P[,P…]       Target platform(s), e.g. linux/amd64,linux/arm64 (repeatable)
  --secret id=ID,src=FILE|env=VAR
                          Build secret for RUN --mount=type=secret (repeatable)
  --cache-from type=registry,ref=REF | type=local,src=DIR | REF
  --cache-to type=registry,ref=REF[,mode=max] | type=local,dest=DIR[,mode=max] | type=inline
  --no-cache              Do not use the build cache
  --pull                  Always pull base images
  --output, -o type=image[,push=true] | type=local,dest=DIR | type=tar,dest=FILE|-
  --push                  Shorthand for --output type=image,push=true

Registry credentials (default: inline "auths" of $DOCKER_CONFIG/config.json or ~/.docker/config.json):
  --registry-host HOST --registry-user USER --registry-password-stdin

Output:
  --progress MODE         auto (live view on a terminal, else plain), plain, json, quiet; progress goes to stderr
  --json                  Print only the result, as one JSON object on stdout (no progress unless --progress is given)
  --addr ADDR             Daemon address (default: $BUILDKIT_HOST)
`;

export const BUILD_HELP = `Usage:
  buildkit-bot build local --context DIR [--file PATH] [flags]
  buildkit-bot build github URL [--git-ref REF] [--subdir DIR] [--token TOKEN] [flags]

${BUILD_FLAGS}`;

export const BUILD_LOCAL_HELP = `Usage: buildkit-bot build local --context DIR [--file PATH] [flags]

Sends DIR (minus what its .dockerignore excludes) to the daemon as the build context.

Context flags:
  --context DIR           The build context directory (or give DIR as the only argument)
  --file, -f PATH         Dockerfile path (default: DIR/Dockerfile); relative to the current directory

${BUILD_FLAGS}`;

export const BUILD_GITHUB_HELP = `Usage: buildkit-bot build github URL [--git-ref REF] [--subdir DIR] [--token TOKEN] [flags]

The daemon clones URL itself (https://github.com/OWNER/REPO, OWNER/REPO, or any https git URL; #REF[:DIR]
fragments are understood). Pin a commit sha for reproducible builds.

Context flags:
  --git-ref REF           Branch, tag, full ref or commit sha (default: HEAD, the default branch)
  --subdir DIR            Repository subdirectory used as the context
  --file, -f PATH         Dockerfile path inside the context (default: Dockerfile)
  --token TOKEN           Token for private repositories (default: $GITHUB_TOKEN); sent only to the daemon's
                          git fetch through the session, never in the URL

${BUILD_FLAGS}`;
