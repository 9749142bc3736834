#!/usr/bin/env bash
# Installs the Debian packages the build needs beyond the Rust toolchain and gcc:
# llama-cpp-2 builds llama.cpp from its sources with cmake, and generates its
# bindings with bindgen (libclang); usearch builds C++ with the system compiler.
# Idempotent: installs only what is missing.
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v clang >/dev/null 2>&1 || missing+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing build dependencies (Debian packages): ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
