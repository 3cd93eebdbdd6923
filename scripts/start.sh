#!/usr/bin/env bash
# npm start: runs buildkit-bot (webhooks and workers in one process).
# Installs what it needs. When Redis, BuildKit or the registry is not configured (in the environment or .env), it
# starts a local one of each under .stack/ (Debian's redis-server, docker.io's Engine, docker-registry) and stops
# them again when the app exits (BUILDKIT_BOT_STACK_ROOT moves that directory).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
cd "$BKB_REPO"

configured() {
  local name="$1"
  [ -n "${!name:-}" ] && return 0
  [ -f .env ] && grep -qE "^${name}=." .env
}

bkb_ensure_node_modules
npm run --silent proto:gen

stack_root=""
if ! configured BUILDKIT_BOT_REDIS_URL || ! configured BUILDKIT_HOST || ! configured BUILDKIT_BOT_REGISTRY; then
  bkb_ensure_debian_packages
  stack_root="${BUILDKIT_BOT_STACK_ROOT:-$BKB_REPO/.stack}"
  echo "start: starting a local Redis, Docker Engine (BuildKit) and registry in $stack_root" >&2
  bkb_stack_cli stop --root "$stack_root" >/dev/null 2>&1 || true
  bkb_stack_cli start --root "$stack_root" >/dev/null
  # shellcheck disable=SC1091
  source "$stack_root/env"
  configured BUILDKIT_BOT_REDIS_URL || export BUILDKIT_BOT_REDIS_URL="$BKB_TEST_REDIS_URL"
  configured BUILDKIT_HOST || export BUILDKIT_HOST="$BKB_TEST_BUILDKIT_ADDR"
  configured BUILDKIT_BOT_REGISTRY || export BUILDKIT_BOT_REGISTRY="$BKB_TEST_REGISTRY"
fi

stop_stack() {
  [ -n "$stack_root" ] || return 0
  bkb_stack_cli stop --root "$stack_root" >/dev/null || echo "start: stopping the local stack failed" >&2
  stack_root=""
}
trap stop_stack EXIT

node --import tsx src/app/main.ts &
app=$!
trap 'kill -TERM "$app" 2>/dev/null || true' TERM INT
set +e
wait "$app"
status=$?
# A signal interrupts the first wait; wait again for the app's own graceful shutdown.
if kill -0 "$app" 2>/dev/null; then
  wait "$app"
  status=$?
fi
set -e
exit "$status"
