#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than the lockfile, then builds dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: npm 11 here leaves other platforms' optional packages (biome's binaries) out of
  # the lockfile it writes and then refuses that lockfile in `npm ci`. `npm install` still
  # installs the locked versions.
  npm install --no-audit --no-fund
else
  npm run --silent build
fi
