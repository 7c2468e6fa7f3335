#!/usr/bin/env bash
# The benchmark command (`npm run bench`): installs what the benchmarks need (Debian toolchain, npm
# packages), builds the guest fixtures, then runs every suite in bench/suites/ and prints one
# markdown table per suite. Arguments go to bench/run.ts: --filter NAME, --quick, --rounds N,
# --json FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-toolchain.sh
bash scripts/setup-npm.sh
npx tsx scripts/build-fixtures.ts

# node:wasi, the WASI baseline, warns that it is experimental each time it is loaded.
NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=ExperimentalWarning" npx tsx bench/run.ts "$@"
