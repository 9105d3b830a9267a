#!/usr/bin/env bash
# Re-makes moxie's demo model from nothing: trains it, writes the HF checkpoint and the GGUF
# that ships, the test goldens and the plots. About 25 minutes on 2 shared cores.
#
#   tools/train/make_demo.sh MOXIE_BINARY [WORK_DIR] [MINUTES]   (defaults: build-demo/train, 22)
#
# Needs scripts/setup.sh's packages (python3-torch, libopenblas0-pthread, bible-kjv,
# python3-matplotlib). Outputs: models/hf/, models/moxie-demo.gguf, tests/golden/demo/,
# docs/images/demo-{training,expert-load}.png; WORK_DIR keeps the log and the corpus.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
moxie="$(realpath "${1:?usage: make_demo.sh MOXIE_BINARY [WORK_DIR] [MINUTES]}")"
work="${2:-$root/build-demo/train}"
minutes="${3:-22}"
py=/usr/bin/python3

# One thread: with OpenMP's worker threads on busy shared cores each op waits on the slowest.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
nice -n 10 "$py" "$root/tools/train/train.py" --out "$work" --minutes "$minutes"

mkdir -p "$root/models/hf"
cp "$work"/hf/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json} "$root/models/hf/"
# F32: the tests compare with PyTorch token for token (Q8_0 would be 3.7 MB, ppl +0.03%).
"$moxie" convert "$root/models/hf" -o "$root/models/moxie-demo.gguf" --type f32
"$py" "$root/tools/train/make_goldens.py" "$work" "$root/models/hf" "$root/tests/golden/demo"
"$py" "$root/tools/train/plot.py" "$work" "$root/tests/golden/demo/expected.json" "$root/docs/images"
echo "make_demo: done; check with build/tests/demo_model_test"
