#!/usr/bin/env bash
# bash scripts/test.sh all|unit|integration|e2e
# Integration and e2e suites run against a fresh stack in a temp dir, stopped on exit; set BKB_STACK_ENV to the
# env file of a running stack (bash scripts/stack.sh start) to reuse it instead. BKB_KEEP_STACK=1 keeps the
# temp stack's directory (logs) after it is stopped. BKB_TEST_BUILDKITD_ADDR=tcp://host:port runs every
# standalone-buildkitd test against that daemon instead of the stack's own.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
cd "$BKB_REPO"

suite="${1:-}"
case "$suite" in
  unit | integration | e2e | all) ;;
  *)
    echo "usage: bash scripts/test.sh all|unit|integration|e2e" >&2
    exit 2
    ;;
esac

bkb_ensure_node
bkb_ensure_debian_packages
bkb_ensure_node_modules

# The log page is tested in Debian's headless Chromium (driven by playwright-core), in the integration and e2e suites.
if [ "$suite" != unit ] && [ ! -x /usr/bin/chromium ]; then
  chromium_sudo=()
  [ "$(id -u)" -ne 0 ] && chromium_sudo=(sudo)
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  "${chromium_sudo[@]}" apt-get update -qq
  "${chromium_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# The metrics e2e test has Debian's Prometheus scrape the app.
if [ "$suite" != unit ]; then bkb_ensure_prometheus; fi
# The check-run looks e2e test renders check-run Markdown with cmark-gfm.
if [ "$suite" != unit ]; then bkb_ensure_check_run_renderer; fi
npm run --silent proto:gen
npm run --silent config:gen

unit_files() { find test -type f -name '*.test.ts' ! -name '*.int.test.ts' ! -name '*.e2e.test.ts' ! -path 'test/e2e/*'; }
integration_files() { find test -type f -name '*.int.test.ts'; }
e2e_files() { [ -d test/e2e ] && find test/e2e -type f -name '*.e2e.test.ts' || true; }

case "$suite" in
  unit) mapfile -t files < <(unit_files | LC_ALL=C sort) ;;
  integration) mapfile -t files < <(integration_files | LC_ALL=C sort) ;;
  e2e) mapfile -t files < <(e2e_files | LC_ALL=C sort) ;;
  all) mapfile -t files < <({ unit_files; integration_files; e2e_files; } | LC_ALL=C sort -u) ;;
esac

if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files for suite '$suite'"
  exit 0
fi

stack_root=""
stop_stack() {
  [ -n "$stack_root" ] || return 0
  local root="$stack_root"
  stack_root=""
  bkb_stack_cli stop --root "$root" || echo "test.sh: stopping the stack in $root failed" >&2
  if [ "${BKB_KEEP_STACK:-}" = 1 ]; then echo "test.sh: stack dir kept: $root" >&2; else rm -rf "$root"; fi
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$suite" != unit ]; then
  if [ -n "${BKB_STACK_ENV:-}" ]; then
    [ -f "$BKB_STACK_ENV" ] || { echo "BKB_STACK_ENV=$BKB_STACK_ENV is not a file" >&2; exit 2; }
    echo "test.sh: using the running stack from $BKB_STACK_ENV"
    # shellcheck disable=SC1090
    source "$BKB_STACK_ENV"
  else
    stack_root="$(mktemp -d /tmp/bkb-stack.XXXXXX)"
    echo "test.sh: starting a stack in $stack_root"
    bkb_stack_cli start --root "$stack_root" >/dev/null
    # shellcheck disable=SC1091
    source "$stack_root/env"
  fi
  export BKB_TEST_REDIS_URL BKB_TEST_DOCKER_SOCKET BKB_TEST_BUILDKIT_ADDR BKB_TEST_REGISTRY BKB_TEST_BASE_IMAGE STACK_ROOT
  [ -n "${BKB_TEST_BUILDKITD_ADDR:-}" ] && export BKB_TEST_BUILDKITD_ADDR
  [ -n "${BKB_TEST_BUILDKITD_BIN:-}" ] && export BKB_TEST_BUILDKITD_BIN
  # The env file also sets the app's and the CLI's own variables; tests pass those explicitly where they mean to.
  unset BUILDKIT_HOST BUILDKIT_BOT_REDIS_URL BUILDKIT_BOT_REGISTRY
  if [ -n "${BKB_TEST_BUILDKITD_ADDR:-}" ]; then
    echo "test.sh: standalone buildkitd at $BKB_TEST_BUILDKITD_ADDR; Docker Engine at $BKB_TEST_BUILDKIT_ADDR"
  else
    echo "test.sh: no standalone buildkitd; its tests are skipped (set BKB_BUILDKITD_BIN, put buildkitd on PATH, or set BKB_TEST_BUILDKITD_ADDR)"
  fi
fi

# spec for people; a tap copy whose "# tests/# pass/# fail" block is printed last, after the spec reporter's
# recap of failing tests, so the run always ends with the runner's summary.
summary_file="$(mktemp /tmp/bkb-test-summary.XXXXXX)"
set +e
node --import tsx --test --test-concurrency=2 --test-timeout="${BKB_TEST_TIMEOUT_MS:-600000}" \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$summary_file" \
  "${files[@]}"
status=$?
set -e
stop_stack >/dev/null
grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$summary_file" | tail -n 8 || true
rm -f "$summary_file"
exit "$status"
