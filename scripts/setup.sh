#!/usr/bin/env bash
# Idempotent set-up used by `npm start`, `npm test` and `npm run bench`:
#  1. Debian packages the project needs (libunicorn2 for the emulator, clang-19 for the C examples);
#  2. node_modules (npm ci) when missing or older than package-lock.json;
#  3. the TypeScript build in dist/ (incremental), and the conformance plugin's single-file bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libunicorn2 clang-19)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet; a failed install is retried once after an update.
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
      apt-get update >/dev/null
      apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    fi
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci" >&2
  if ! npm ci --no-audit --no-fund >/tmp/bpfjit-npm-ci.log 2>&1; then
    cat /tmp/bpfjit-npm-ci.log >&2
    exit 1
  fi
fi

npx tsc -p tsconfig.json
node scripts/bundle-plugin.mjs
