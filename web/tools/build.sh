#!/usr/bin/env bash
# The CMake step behind the embedded chat page: installs the pinned npm packages when
# needed, bundles the page into <out>/dist and writes <out>/web_assets_data.cc.
# usage: build.sh <out dir>
set -euo pipefail
web=$(cd "$(dirname "$0")/.." && pwd)
out=$1
mkdir -p "$out"
bash "$web/tools/npm_ci_if_stale.sh" "$web"
node "$web/tools/build.mjs" --outdir "$out/dist"
# Write to a temporary name first so an interrupted build never leaves half a source.
node "$web/tools/embed.mjs" "$out/dist" "$out/web_assets_data.cc.tmp"
mv "$out/web_assets_data.cc.tmp" "$out/web_assets_data.cc"
