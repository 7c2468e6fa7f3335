#!/usr/bin/env bash
# The one test command (`npm test`): installs what the tests need (Debian toolchain, Redis, npm
# packages), builds the guest fixtures and the JavaScript runtime, then runs type-check, lint +
# format check, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-toolchain.sh
bash scripts/setup-redis.sh
bash scripts/setup-npm.sh
npx tsx scripts/build-fixtures.ts
npx tsx scripts/build-javascript-runtime.ts

echo '== type-check'
npx tsc -p tsconfig.json --noEmit
echo '== lint and format'
npx biome check .
echo '== tests'
npx tsx scripts/run-tests.ts "$@"
