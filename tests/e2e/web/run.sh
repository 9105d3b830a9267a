#!/usr/bin/env bash
# Runs the chat page's browser tests (ctest's web_e2e). Installs playwright-core from
# package-lock.json when needed; uses Debian's Chromium, never a downloaded browser.
# Environment: MOXIE_WEB_DIST (the built page), MOXIE_WEB_E2E_ARTIFACTS (screenshots),
# MOXIE_WEB_E2E_SERVER (the server command; see harness.mjs), MOXIE_CHROMIUM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chromium=${MOXIE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "web_e2e: no Chromium at $chromium: run scripts/setup.sh (Debian's chromium package)" >&2
  exit 1
fi
bash "$here/../../../web/tools/npm_ci_if_stale.sh" "$here"
cd "$here"
exec node --test --test-concurrency=1 chat.test.mjs errors.test.mjs safety.test.mjs page.test.mjs
