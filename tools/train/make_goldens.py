#!/usr/bin/python3
"""Writes the goldens tests/unit/demo checks the shipped model against, from the PyTorch
model (the oracle) rebuilt from the HF checkpoint:

    make_goldens.py TRAIN_DIR HF_DIR GOLDEN_DIR

  GOLDEN_DIR/heldout.txt     the held-out chapters (TRAIN_DIR/corpus/heldout.txt)
  GOLDEN_DIR/words.txt       every word (lower-cased letter run) of the training text
  GOLDEN_DIR/expected.json   held-out perplexity (moxie perplexity's windows), token count and
                             first ids, per-layer expert hits over every held-out window
                             position, and the greedy continuation of "In the beginning"
"""
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import evaluate  # noqa: E402
import hf_format  # noqa: E402

PROMPT, N_GREEDY = "In the beginning", 32


def load_tokenizer(hf_dir):
    with open(os.path.join(hf_dir, "tokenizer.json"), encoding="utf-8") as f:
        merges = json.load(f)["model"]["merges"]
    return bpe.Tokenizer(tuple(m.split(" ")) for m in merges)


@torch.no_grad()
def greedy(model, ids, n):
    """Full recompute each step (no cache): the plainest form of greedy decoding."""
    ids, margins = list(ids), []
    for _ in range(n):
        logits = model(torch.tensor([ids]))[0][0, -1]
        top = logits.topk(2).values
        margins.append((top[0] - top[1]).item())
        ids.append(int(logits.argmax()))
    return ids, min(margins)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    train_dir, hf_dir, golden = sys.argv[1:]
    os.makedirs(golden, exist_ok=True)
    torch.set_num_threads(1)
    tok = load_tokenizer(hf_dir)
    model = hf_format.load_model(hf_dir)
    with open(os.path.join(train_dir, "corpus", "heldout.txt")) as f:
        heldout = f.read()
    with open(os.path.join(train_dir, "corpus", "train.txt")) as f:
        words = sorted(set(re.findall(r"[a-z]+", f.read().lower())))
    with open(os.path.join(golden, "heldout.txt"), "w") as f:
        f.write(heldout)
    with open(os.path.join(golden, "words.txt"), "w") as f:
        f.write("\n".join(words) + "\n")
    ids = tok.encode(heldout)
    n_ctx = model.c.max_position_embeddings
    ppl, n_scored, hits = evaluate.perplexity(model, ids, n_ctx)
    prompt_ids = tok.encode(PROMPT)
    out_ids, margin = greedy(model, prompt_ids, N_GREEDY)
    expected = {
        "made_by": "tools/train/make_goldens.py (PyTorch model rebuilt from the HF checkpoint)",
        "n_ctx": n_ctx, "heldout_tokens": len(ids), "heldout_first_ids": ids[:64],
        "heldout_ppl": ppl, "heldout_scored": n_scored, "expert_hits": hits.tolist(),
        "greedy_prompt": PROMPT, "greedy_prompt_ids": prompt_ids, "greedy_ids": out_ids[len(prompt_ids):],
        "greedy_text": tok.decode(out_ids[len(prompt_ids):]), "greedy_min_top2_margin": margin,
    }
    with open(os.path.join(golden, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"held-out ppl {ppl:.4f} over {n_scored} tokens; greedy: {PROMPT}{expected['greedy_text']!r} "
          f"(min top-2 margin {margin:.3f})")


if __name__ == "__main__":
    main()
