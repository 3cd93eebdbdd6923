#!/usr/bin/env bash
# npm run bench [-- <name>…]: the benchmarks of issue 7 (bench/), each printing a table, results into BENCHMARKS.md.
# Starts its own stack (a private Docker Engine with raised step-log limits, a private standalone buildkitd, Redis, a
# registry; stopped by PID on exit) so cold runs may prune those daemons' caches and images without touching anyone
# else's. The stack never takes an external buildkitd (BKB_TEST_BUILDKITD_ADDR from the caller is ignored): cold
# runs `buildctl prune --all` on it.
#   BKB_BENCH_QUICK=1   reduced run counts for a smoke run (BENCHMARKS.md is left alone)
#   BKB_BENCH_DAEMON=buildkitd|docker-engine   overhead and build-start on that daemon only (BENCHMARKS.md is left alone)
#   BKB_KEEP_STACK=1    keep the stack's directory (logs) after it is stopped
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
cd "$BKB_REPO"

bkb_ensure_node
bkb_ensure_debian_packages
bkb_ensure_node_modules
npm run --silent proto:gen
npm run --silent config:gen

stack_root=""
stop_stack() {
  [ -n "$stack_root" ] || return 0
  local root="$stack_root"
  stack_root=""
  bkb_stack_cli stop --root "$root" || echo "bench.sh: stopping the stack in $root failed" >&2
  if [ "${BKB_KEEP_STACK:-}" = 1 ]; then echo "bench.sh: stack dir kept: $root" >&2; else rm -rf "$root"; fi
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_root="$(mktemp -d /tmp/bkb-bench.XXXXXX)"
echo "bench.sh: starting a private stack in $stack_root" >&2
unset BKB_TEST_BUILDKITD_ADDR BKB_TEST_BUILDKITD_BIN
bkb_stack_cli start --root "$stack_root" >/dev/null
# shellcheck disable=SC1091
source "$stack_root/env"
export BKB_TEST_REDIS_URL BKB_TEST_DOCKER_SOCKET BKB_TEST_BUILDKIT_ADDR BKB_TEST_REGISTRY BKB_TEST_BASE_IMAGE STACK_ROOT
[ -n "${BKB_TEST_BUILDKITD_ADDR:-}" ] && export BKB_TEST_BUILDKITD_ADDR
[ -n "${BKB_TEST_BUILDKITD_BIN:-}" ] && export BKB_TEST_BUILDKITD_BIN
# The env file also sets the app's and the CLI's own variables; the benchmarks name their daemon explicitly.
unset BUILDKIT_HOST BUILDKIT_BOT_REDIS_URL BUILDKIT_BOT_REGISTRY
if [ -n "${BKB_TEST_BUILDKITD_ADDR:-}" ]; then
  echo "bench.sh: standalone buildkitd at $BKB_TEST_BUILDKITD_ADDR; Docker Engine at $BKB_TEST_BUILDKIT_ADDR" >&2
else
  echo "bench.sh: no standalone buildkitd; its rows are left out (set BKB_BUILDKITD_BIN or put buildkitd on PATH)" >&2
fi

set +e
node --import tsx bench/run.ts "$@"
status=$?
set -e
exit "$status"
