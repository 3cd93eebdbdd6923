#!/usr/bin/env bash
# The local test stack: Redis, a Docker Engine (embedded BuildKit), a standalone buildkitd, a registry with a busybox
# base image.
#   bash scripts/stack.sh start [--root DIR]   # prints the env file to `source` (default root: .stack/)
#   bash scripts/stack.sh stop  [--root DIR]
#   bash scripts/stack.sh deps                 # only install missing Debian packages and node_modules
# Sourced (by scripts/test.sh and .ci/run) it only defines the helper functions.
set -euo pipefail

BKB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BKB_DEBIAN_PACKAGES=(docker.io redis-server docker-registry busybox-static git openssl iproute2 ca-certificates runc containernetworking-plugins xz-utils docker-compose)

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

# Debian's prometheus (2.42, its web assets with it), for the metrics e2e test that has it scrape the app; installed
# when missing like the packages above (its service kept from starting).
bkb_ensure_prometheus() {
  [ -x /usr/bin/prometheus ] && return 0
  local BKB_DEBIAN_PACKAGES=(prometheus)
  bkb_ensure_debian_packages
}

# Debian's cmark-gfm (GitHub's fork of cmark) and chromium: the check-run looks test and screenshot render check-run
# Markdown as GitHub does and lay it out in headless Chromium.
bkb_ensure_check_run_renderer() {
  [ -x /usr/bin/cmark-gfm ] && [ -x /usr/bin/chromium ] && return 0
  local BKB_DEBIAN_PACKAGES=(cmark-gfm chromium)
  bkb_ensure_debian_packages
}

# `npm ci` from the lock file (which lists every platform's optional packages, as npm 11 requires).
bkb_npm_install() {
  (
    cd "$BKB_REPO"
    lock=()
    command -v flock >/dev/null && lock=(flock /tmp/npm.lock)
    "${lock[@]}" npm ci --no-audit --no-fund
  ) >&2
}

# The Node.js major the production image ships (Dockerfile: node:<major>-bookworm-slim), from .node-version.
BKB_NODE_MAJOR="$(tr -d '[:space:]' < "$BKB_REPO/.node-version")"

# Puts that Node major first on PATH for this shell and its children: the machine's own node when it is that major,
# else the npm registry's `node` package installed once under BKB_NODE_DIR (default ~/.cache/buildkit-bot/node-<major>).
bkb_ensure_node() {
  local current
  current="$(node --version 2>/dev/null || true)"
  [ "${current%%.*}" = "v$BKB_NODE_MAJOR" ] && return 0
  local dir="${BKB_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-bot/node-$BKB_NODE_MAJOR}"
  if [ ! -x "$dir/node_modules/.bin/node" ] || [ "$("$dir/node_modules/.bin/node" --version | cut -d. -f1)" != "v$BKB_NODE_MAJOR" ]; then
    echo "stack: installing Node.js $BKB_NODE_MAJOR (the npm registry's node package) into $dir" >&2
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private":true}' > "$dir/package.json"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$BKB_NODE_MAJOR" >&2
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
  hash -r
}

# Installs node_modules when it is missing or incomplete (no tsx, or no link to the library's workspace).
bkb_ensure_node_modules() {
  [ -x "$BKB_REPO/node_modules/.bin/tsx" ] && [ -f "$BKB_REPO/node_modules/@buildkit-bot/buildkit/package.json" ] && return 0
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
