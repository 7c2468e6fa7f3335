#!/usr/bin/env bash
# The "run it" command (`npm start`): installs what is needed, builds the example, and runs it
# with `isola run`, granting it one read-only directory and one environment variable.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-toolchain.sh
bash scripts/setup-npm.sh
mkdir -p build/examples
clang --target=wasm32-wasi -O2 -Wl,--strip-all examples/hello/hello.c -o build/examples/hello.wasm

set -x
node bin/isola.js run --ro-dir examples/hello/data::/data --env GREETING=Hello build/examples/hello.wasm
