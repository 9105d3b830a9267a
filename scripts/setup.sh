#!/usr/bin/env bash
# Installs every Debian package moxie needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt-get itself.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  # C++ libraries
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev libpcre2-dev libsqlite3-dev libpqxx-dev
  # metering: SHA-256 of API keys (libcrypto); a real PostgreSQL for its tests
  libssl-dev postgresql
  # reference tests (numpy/jinja2 oracles)
  python3 python3-numpy python3-jinja2
  # tokenizer: Unicode tables and NormalizationTest.txt.bz2 (the HF oracle also needs node + npm)
  unicode-data bzip2
  # moxie eval: the score-against-cost chart
  gnuplot-nox
  # chat page browser tests (playwright-core drives Debian's Chromium, headless)
  chromium chromium-driver
  # demo model training (tools/train): PyTorch on CPU (OpenBLAS, else torch's matmuls use the
  # reference BLAS), the KJV text, and the training-curve plots
  python3-torch libopenblas0-pthread bible-kjv python3-matplotlib
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js + npm run the reference tokenizers and build the web page; one from NodeSource counts too.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
