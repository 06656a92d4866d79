#!/usr/bin/env bash
# Compiles the example BPF programs the way libbpf users do: clang -target bpf -O2 -g -mcpu=v4.
# The .o files are committed so tests run without clang; rerun this after editing a .c file.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
command -v "$CLANG" >/dev/null || { echo "build.sh: $CLANG not found (scripts/setup.sh installs clang-19)" >&2; exit 1; }
for src in *.bpf.c; do
  # Relative paths and a fixed compilation dir keep the objects independent of the checkout location.
  "$CLANG" -target bpf -O2 -g -mcpu=v4 -Wall -Iinclude -fdebug-compilation-dir=. -c "$src" -o "${src%.c}.o"
  echo "built ${src%.c}.o"
done
