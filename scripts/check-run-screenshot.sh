#!/usr/bin/env bash
# npm run screenshot:check-run [-- <out dir>]: docs/check-run.png and docs/check-run-phone.png from a real check run
# (scripts/check-run-screenshot.ts). Starts a private stack (stopped on exit) unless BKB_STACK_ENV names the env
# file of a running one (bash scripts/stack.sh start).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
cd "$BKB_REPO"

bkb_ensure_node
bkb_ensure_debian_packages
bkb_ensure_check_run_renderer
bkb_ensure_node_modules
npm run --silent proto:gen

stack_root=""
stop_stack() {
  [ -n "$stack_root" ] || return 0
  local root="$stack_root"
  stack_root=""
  bkb_stack_cli stop --root "$root" || echo "check-run-screenshot.sh: stopping the stack in $root failed" >&2
  rm -rf "$root"
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${BKB_STACK_ENV:-}" ]; then
  env_file="$BKB_STACK_ENV"
else
  stack_root="$(mktemp -d /tmp/bkb-screenshot.XXXXXX)"
  echo "check-run-screenshot.sh: starting a private stack in $stack_root" >&2
  bkb_stack_cli start --root "$stack_root" >/dev/null
  env_file="$stack_root/env"
fi
set -a
# shellcheck disable=SC1090
source "$env_file"
set +a
# The env file also sets the app's own variables; the e2e world sets them for the app it starts.
unset BUILDKIT_HOST BUILDKIT_BOT_REDIS_URL BUILDKIT_BOT_REGISTRY
node --import tsx scripts/check-run-screenshot.ts "$@"
