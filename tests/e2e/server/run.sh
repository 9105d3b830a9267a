#!/usr/bin/env bash
# Runs the server end-to-end tests (ctest's e2e_server_openai): a real `moxie serve` on a
# synthetic model, driven by the official openai npm client and by raw malformed requests.
# Installs the pinned `openai` from package-lock.json when needed.
# Environment: MOXIE_BIN (the moxie binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../../web/tools/npm_ci_if_stale.sh" "$here"
cd "$here"
exec node --test --test-concurrency=1 openai_client.test.mjs bad_input.test.mjs
