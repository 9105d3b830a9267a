#!/usr/bin/env bash
# Tokenizer encode throughput, moxie vs Hugging Face's tokenizers core, same text, same
# machine, one thread each. Usage: bench/tokenizer/compare.sh BUILD_DIR (default build).
# Needs the reference packages: (cd tests/oracle/tokenizers && npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
echo "== moxie (CPU time is the one-core figure on a shared machine)"
MOXIE_SOURCE_DIR=. "$build/bench/tokenizer_bench" --benchmark_counters_tabular=true
echo "== Hugging Face tokenizers (npm)"
node tools/ref/tokenizer_bench.mjs
