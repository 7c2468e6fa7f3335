#!/usr/bin/env bash
# Installs redis-server (Debian's redis-server package) for the Redis key-value backend's tests,
# which start their own server on 127.0.0.1 with a random port and a temporary directory.
# Idempotent and quiet when redis-server is present; otherwise installs with apt-get,
# non-interactively (CI runs as root on a fresh bookworm machine). Exits non-zero with the command
# to run when it cannot install, so that the tests fail with that message rather than skip.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

echo "setup-redis: redis-server is missing; installing redis-server"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup-redis: not root and no sudo; install it by hand:" >&2
    echo "  apt-get install -y redis-server" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# The package's own service is not what the tests use; where no policy forbids it, its postinst
# may start one on port 6379, which the tests neither need nor disturb.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || {
  echo "setup-redis: apt-get installed redis-server but it is not on PATH" >&2
  exit 1
}
echo "setup-redis: installed $(redis-server --version | cut -d' ' -f1-3)"
