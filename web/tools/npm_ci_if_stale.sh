#!/usr/bin/env bash
# Runs `npm ci` in a folder unless its node_modules already matches package-lock.json.
# Several build folders (and the e2e tests) share web/node_modules, so the check and the
# install run under a lock and a copy of the installed lock file marks what is there.
# usage: npm_ci_if_stale.sh <folder with package-lock.json>
set -euo pipefail
dir=$(cd "$1" && pwd)
stamp="$dir/node_modules/.moxie-installed-lock.json"
exec 9>"$dir/.npm-ci.lock"
flock 9
if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
  exit 0
fi
echo "npm ci in $dir"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$dir/package-lock.json" "$stamp"
