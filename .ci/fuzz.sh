#!/usr/bin/env bash
# Builds the parser fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60): the GGUF reader on a seed corpus freshly written by
# gguf_seed_writer (our own GgufWriter), the chat-template parser on our own templates.
# Exits non-zero when a fuzzer finds a crash, leak or sanitizer report; the crashing input
# is left in $BUILD/fuzz-artifacts/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_TO_RUN="${FUZZ_SECONDS:-60}"

mkdir -p "$BUILD"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMOXIE_FUZZ=ON -DMOXIE_TESTS=OFF -DMOXIE_BENCH=OFF > "$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
ninja -C "$BUILD" -j"${FUZZ_JOBS:-2}" gguf_reader_fuzz gguf_seed_writer template_fuzz

CORPUS="$BUILD/fuzz-corpus/gguf"
ARTIFACTS="$BUILD/fuzz-artifacts"
rm -rf "$CORPUS"
mkdir -p "$CORPUS" "$ARTIFACTS"
"$BUILD/fuzz/gguf_seed_writer" "$CORPUS"
echo "fuzz: seed corpus $(ls "$CORPUS" | wc -l) files; running gguf_reader_fuzz for ${SECONDS_TO_RUN}s"

# -rss_limit_mb bounds memory: the reader must never allocate in proportion to a claimed count.
"$BUILD/fuzz/gguf_reader_fuzz" "$CORPUS" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/"

TEMPLATE_CORPUS="$BUILD/fuzz-corpus/template"
rm -rf "$TEMPLATE_CORPUS"
mkdir -p "$TEMPLATE_CORPUS"
cp "$ROOT"/tests/golden/templates/features/*.jinja "$TEMPLATE_CORPUS/"
echo "fuzz: running template_fuzz for ${SECONDS_TO_RUN}s on $(ls "$TEMPLATE_CORPUS" | wc -l) templates"
"$BUILD/fuzz/template_fuzz" "$TEMPLATE_CORPUS" -max_total_time="$SECONDS_TO_RUN" -max_len=16384 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/"
echo "fuzz: no crashes in ${SECONDS_TO_RUN}s per target"
