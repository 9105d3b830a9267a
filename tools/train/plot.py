#!/usr/bin/python3
"""Plots a training run: the loss curve and the per-expert load.

    plot.py TRAIN_DIR EXPECTED_JSON OUT_DIR

  OUT_DIR/demo-training.png     training cross-entropy (nats/token) and held-out perplexity
                                on the first 8 held-out windows, against tokens seen
  OUT_DIR/demo-expert-load.png  per layer: each expert's share of the routed slots during
                                training (mean of the last 8 logged batches, top), and the
                                held-out histogram (bottom)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_training(log, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    tokens = [r["tokens"] / 1e6 for r in log]
    ax.plot(tokens, [r["loss"] for r in log], label="training loss (batch)", color="tab:blue", lw=1)
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("cross-entropy (nats / token)")
    evals = [r for r in log if "heldout_ppl" in r]
    ax2 = ax.twinx()
    ax2.plot([r["tokens"] / 1e6 for r in evals], [r["heldout_ppl"] for r in evals], "o-", color="tab:red",
             label="held-out perplexity (8 windows)")
    ax2.set_yscale("log")
    ax2.set_ylabel("held-out perplexity")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper right")
    ax.set_title("moxie demo model: Qwen3-MoE, 4 layers, 8 experts top-2, KJV text")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def smooth(values, window=8):
    """Trailing mean: one batch's routing is noisy."""
    return [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
            for i in range(len(values))]


def plot_load(log, hits, out):
    n_layer, n_expert = len(hits), len(hits[0])
    fig, axes = plt.subplots(2, n_layer, figsize=(3.2 * n_layer, 6), squeeze=False)
    tokens = [r["tokens"] / 1e6 for r in log]
    for il in range(n_layer):
        ax = axes[0][il]
        for e in range(n_expert):
            ax.plot(tokens, smooth([r["load"][il][e] for r in log]), lw=0.8, label=f"e{e}")
        ax.axhline(1 / n_expert, color="k", ls="--", lw=0.6)
        ax.set_title(f"layer {il}: share during training")
        ax.set_xlabel("tokens (M)")
        ax = axes[1][il]
        total = sum(hits[il])
        ax.bar(range(n_expert), [h / total for h in hits[il]], color="tab:green")
        ax.axhline(1 / n_expert, color="k", ls="--", lw=0.6)
        ax.set_title(f"layer {il}: held-out share")
        ax.set_xlabel("expert")
    axes[0][0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    train_dir, expected_path, out_dir = sys.argv[1:]
    log = read_log(os.path.join(train_dir, "log.jsonl"))
    with open(expected_path) as f:
        hits = json.load(f)["expert_hits"]
    os.makedirs(out_dir, exist_ok=True)
    plot_training(log, os.path.join(out_dir, "demo-training.png"))
    plot_load(log, hits, os.path.join(out_dir, "demo-expert-load.png"))


if __name__ == "__main__":
    main()
