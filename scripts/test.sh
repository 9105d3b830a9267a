#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then
#  1. Release build + every test (ctest),
#  2. an AddressSanitizer + UndefinedBehaviorSanitizer build of the tests + ctest,
#  3. a bounded libFuzzer run of each parser (FUZZ_SECONDS, default 60 s each).
# Set MOXIE_SKIP_SANITIZE=1 or MOXIE_SKIP_FUZZ=1 to skip a stage locally.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
# Reference implementations used as test oracles, pinned in each package-lock.json.
for dir in tests/oracle/*/; do
  if [ -f "$dir/package-lock.json" ]; then
    echo "== npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

echo "== Release build and tests"
bash scripts/build.sh
(cd build && ctest --output-on-failure -j2)

if [ "${MOXIE_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan+UBSan build and tests"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOXIE_SANITIZE=ON -DMOXIE_BENCH=OFF > /dev/null
  ninja -C build-asan
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2)
fi

if [ "${MOXIE_SKIP_FUZZ:-0}" != 1 ] && [ -x .ci/fuzz.sh ]; then
  echo "== Bounded fuzzing"
  bash .ci/fuzz.sh
fi
echo "== all stages passed"
