#!/usr/bin/env bash
# npm start: runs buildkit-bot (webhooks and workers in one process).
# Installs what it needs. When Redis, BuildKit or the registry is not configured (in the environment or .env), it
# starts a local one of each under .stack/ (Debian's redis-server, a standalone buildkitd, docker-registry) and stops
# them again when the app exits (BUILDKIT_BOT_STACK_ROOT moves that directory). Without App credentials (APP_ID and
# PRIVATE_KEY or PRIVATE_KEY_PATH) the app only serves Probot's setup page, so no stack is started.
# package.json runs it with `exec`, so SIGTERM/SIGINT sent to npm's PID reach this script, which stops the app
# (letting its builds finish) and then the stack.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
cd "$BKB_REPO"

configured() {
  local name="$1"
  [ -n "${!name:-}" ] && return 0
  [ -f .env ] && grep -qE "^${name}=." .env
}

stack_root=""
app=""
stop_stack() {
  [ -n "$stack_root" ] || return 0
  bkb_stack_cli stop --root "$stack_root" >/dev/null || echo "start: stopping the local stack failed" >&2
  stack_root=""
}
# A signal before the app runs ends the script (the EXIT trap stops what was started); once it runs, the app gets it.
on_signal() {
  local code="$1"
  if [ -n "$app" ]; then
    kill -TERM "$app" 2>/dev/null || true
  else
    exit "$code"
  fi
}
trap stop_stack EXIT
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

bkb_ensure_node
bkb_ensure_node_modules
npm run --silent proto:gen

if ! configured APP_ID || { ! configured PRIVATE_KEY && ! configured PRIVATE_KEY_PATH; }; then
  echo "start: no App credentials (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH): serving the setup page only, no local stack" >&2
elif ! configured BUILDKIT_BOT_REDIS_URL || ! configured BUILDKIT_HOST || ! configured BUILDKIT_BOT_REGISTRY; then
  bkb_ensure_debian_packages
  stack_root="${BUILDKIT_BOT_STACK_ROOT:-$BKB_REPO/.stack}"
  echo "start: starting a local Redis, BuildKit (a standalone buildkitd when one is found, else a Docker Engine) and registry in $stack_root" >&2
  bkb_stack_cli stop --root "$stack_root" >/dev/null 2>&1 || true
  bkb_stack_cli start --root "$stack_root" >/dev/null
  # Only what is not configured comes from the stack: its env file would also override the environment and .env.
  stack_value() { (source "$stack_root/env" && printf '%s' "${!1}"); }
  configured BUILDKIT_BOT_REDIS_URL || export BUILDKIT_BOT_REDIS_URL="$(stack_value BUILDKIT_BOT_REDIS_URL)"
  configured BUILDKIT_HOST || export BUILDKIT_HOST="$(stack_value BUILDKIT_HOST)"
  configured BUILDKIT_BOT_REGISTRY || export BUILDKIT_BOT_REGISTRY="$(stack_value BUILDKIT_BOT_REGISTRY)"
  echo "start: BUILDKIT_HOST=$BUILDKIT_HOST" >&2
fi

node --import tsx src/app/main.ts &
app=$!
set +e
wait "$app"
status=$?
# A signal interrupts the wait; wait again for the app's own graceful shutdown.
while kill -0 "$app" 2>/dev/null; do
  wait "$app"
  status=$?
done
set -e
exit "$status"
