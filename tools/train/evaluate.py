"""Held-out perplexity and expert load, computed the way `moxie perplexity` does
(src/moxie/runtime/perplexity.h, llama-perplexity's definition):

  tokens cut into floor(n / n_ctx) windows of n_ctx (tail dropped); no BOS (the tokenizer
  adds none); each window from an empty context; positions j = n_ctx/2 .. n_ctx-2 scored:
  nll_j = -log softmax(logits_j)[tokens[s + j + 1]] in double precision; ppl = exp(mean nll).
"""
import math

import torch


@torch.no_grad()
def perplexity(model, tokens, n_ctx, batch=8):
    """Returns (ppl, n_scored, hits [L, E] over every position of every window)."""
    model.eval()
    n_window = len(tokens) // n_ctx
    if n_window < 2:
        raise ValueError(f"held-out text has {len(tokens)} tokens: fewer than 2 windows of {n_ctx}")
    data = torch.tensor(tokens[:n_window * n_ctx], dtype=torch.long).view(n_window, n_ctx)
    first = n_ctx // 2
    nll_sum, n_scored, hits = 0.0, 0, None
    for b in range(0, n_window, batch):
        x = data[b:b + batch]
        logits, _, h = model(x)
        hits = h if hits is None else hits + h
        logp = torch.log_softmax(logits[:, first:n_ctx - 1].double(), dim=-1)
        target = x[:, first + 1:n_ctx]
        nll_sum -= logp.gather(-1, target[..., None]).sum().item()
        n_scored += target.numel()
    model.train()
    return math.exp(nll_sum / n_scored), n_scored, hits
