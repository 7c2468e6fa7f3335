#!/usr/bin/env bash
# Installs the toolchain that compiles the C guest fixtures to wasm32-wasi (Debian's clang, lld,
# wasi-libc and the wasm32 compiler-rt builtins), and Duktape's sources (duktape-dev) for the
# JavaScript runtime. Idempotent and quiet when everything is present; otherwise installs with
# apt-get, non-interactively (CI runs as root on a fresh bookworm machine).
set -euo pipefail

missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v wasm-ld >/dev/null 2>&1 || missing+=(lld)
[ -f /usr/include/wasm32-wasi/stdio.h ] || missing+=(wasi-libc)
dpkg-query -W -f='${Status}' libclang-rt-14-dev-wasm32 2>/dev/null | grep -q 'install ok installed' ||
  missing+=(libclang-rt-14-dev-wasm32)
[ -f /usr/share/duktape/duktape.c ] || missing+=(duktape-dev)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "setup-toolchain: missing ${missing[*]}; installing clang lld wasi-libc libclang-rt-14-dev-wasm32 duktape-dev"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup-toolchain: not root and no sudo; install them by hand:" >&2
    echo "  apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 duktape-dev" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends clang lld wasi-libc libclang-rt-14-dev-wasm32 duktape-dev >/dev/null
echo "setup-toolchain: installed"
