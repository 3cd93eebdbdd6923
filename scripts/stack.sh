#!/usr/bin/env bash
# The local test stack: Redis, a Docker Engine (embedded BuildKit), a standalone buildkitd, a registry with a busybox
# base image.
#   bash scripts/stack.sh start [--root DIR]   # prints the env file to `source` (default root: .stack/)
#   bash scripts/stack.sh stop  [--root DIR]
#   bash scripts/stack.sh deps                 # only install missing Debian packages and node_modules
# Sourced (by scripts/test.sh and .ci/run) it only defines the helper functions.
set -euo pipefail

BKB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BKB_DEBIAN_PACKAGES=(docker.io redis-server docker-registry busybox-static git openssl iproute2 ca-certificates runc containernetworking-plugins xz-utils)

# Installs whichever of BKB_DEBIAN_PACKAGES is missing; `apt-get update` runs only when something is.
bkb_ensure_debian_packages() {
  local missing=() pkg
  for pkg in "${BKB_DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "stack: installing Debian packages: ${missing[*]}" >&2
  # Keep the packages' own services (system dockerd, redis on 6379) from starting: the stack runs its own.
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    created_policy=1
  fi
  local status=0
  "${sudo[@]}" apt-get update -qq || status=$?
  if [ "$status" -eq 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  fi
  [ -n "$created_policy" ] && "${sudo[@]}" rm -f "$policy"
  return "$status"
}

# `npm ci`, or when it refuses the lock file, `npm install --no-save` (same versions, lock left untouched): npm
# ≥ 11.6.2 rejects locks without every platform's optional packages (npm/cli#8805), and this machine's registry
# does not serve some of them, so even a freshly generated lock can fail `npm ci` here.
bkb_npm_install() {
  (
    cd "$BKB_REPO"
    lock=()
    command -v flock >/dev/null && lock=(flock /tmp/npm.lock)
    if ! "${lock[@]}" npm ci --no-audit --no-fund; then
      echo "stack: npm ci failed; falling back to npm install --no-save" >&2
      "${lock[@]}" npm install --no-save --no-audit --no-fund
    fi
  ) >&2
}

# Installs node_modules when it is missing or incomplete.
bkb_ensure_node_modules() {
  [ -x "$BKB_REPO/node_modules/.bin/tsx" ] && return 0
  echo "stack: installing node_modules" >&2
  bkb_npm_install
}

# Runs the stack CLI (test/support/stack/cli.ts) from the repo, with --root made absolute first.
bkb_stack_cli() {
  local args=()
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --root) args+=(--root "$(realpath -m "$2")"); shift 2 ;;
      --root=*) args+=(--root "$(realpath -m "${1#--root=}")"); shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  (cd "$BKB_REPO" && node --import tsx test/support/stack/cli.ts "${args[@]}")
}

bkb_stack_main() {
  case "${1:-}" in
    start | stop)
      bkb_ensure_debian_packages
      bkb_ensure_node_modules
      bkb_stack_cli "$@"
      ;;
    deps)
      bkb_ensure_debian_packages
      bkb_ensure_node_modules
      ;;
    *)
      echo "usage: bash scripts/stack.sh start|stop [--root DIR] | deps" >&2
      return 2
      ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  bkb_stack_main "$@"
fi
