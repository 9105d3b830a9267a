#!/usr/bin/env bash
# Configures and builds moxie (Release) into build/; the binary is build/moxie.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.log.tmp 2>&1 || { cat build.log.tmp; rm -f build.log.tmp; exit 1; }
rm -f build.log.tmp
ninja -C build "$@"
