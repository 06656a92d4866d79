#!/usr/bin/env bash
# Compiles the example BPF programs the way libbpf users do: clang -target bpf -O2 -g -mcpu=v4.
# The .o files are committed so tests run without clang; rerun this after editing a .c file.
# OUT=DIR writes the objects elsewhere (the tests rebuild into a temporary folder and compare).
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
OUT=${OUT:-.}
command -v "$CLANG" >/dev/null || { echo "build.sh: $CLANG not found (scripts/setup.sh installs clang-19)" >&2; exit 1; }
mkdir -p "$OUT"
for src in *.bpf.c; do
  # Relative paths and a fixed compilation dir keep the objects independent of the checkout location.
  "$CLANG" -target bpf -O2 -g -mcpu=v4 -Wall -Iinclude -fdebug-compilation-dir=. -c "$src" -o "$OUT/${src%.c}.o"
  echo "built $OUT/${src%.c}.o"
done
