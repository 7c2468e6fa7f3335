#!/usr/bin/env bash
# The "run it" command (`npm start`): installs what is needed, then serves examples/hello with
# `isola up`, which builds it (its isola.toml names the build command) and serves it on
# http://127.0.0.1:3000/hello until Ctrl-C. `npm start -- --listen 127.0.0.1:8080` picks another port.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-toolchain.sh
bash scripts/setup-npm.sh

set -x
exec node bin/isola.js up examples/hello "$@"
