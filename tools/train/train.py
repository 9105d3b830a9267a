#!/usr/bin/python3
"""Trains moxie's demo model: a small Qwen3-MoE on the King James Bible (Debian's
bible-kjv), CPU only, within a wall-clock budget.

    nice -n 10 /usr/bin/python3 tools/train/train.py --out build-demo/train --minutes 35

Writes to --out: corpus/{train,heldout}.txt, hf/ (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json; rewritten at every checkpoint), log.jsonl (one line
per logged step: loss, aux loss, per-layer expert load), metrics.json (held-out perplexity
as `moxie perplexity -c 256` computes it, expert load on the held-out text).
The learning rate follows the clock (warm-up, then cosine to 10% at the end of the budget)
so a run cut short by the budget still ends annealed.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
import evaluate  # noqa: E402
import hf_format  # noqa: E402
from model import Config, Qwen3Moe  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=35.0, help="training wall-clock budget")
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--ffn", type=int, default=256)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--aux", type=float, default=0.01, help="load-balancing loss coefficient")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args()


def lr_at(progress, base, warmup=0.03):
    if progress < warmup:
        return base * progress / warmup
    t = min(1.0, (progress - warmup) / (1 - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def save_checkpoint(model, tok, folder):
    os.makedirs(folder, exist_ok=True)
    c = model.c
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(hf_format.hf_config(c, tok.special_id("<|im_end|>"), tok.special_id("<|endoftext|>")), f, indent=1)
    tmp = os.path.join(folder, "model.safetensors.tmp")
    hf_format.write_safetensors(tmp, hf_format.hf_tensors(model))
    os.replace(tmp, os.path.join(folder, "model.safetensors"))
    tok.save(folder)


def prepare_data(args):
    train_text, heldout_text = corpus.load()
    os.makedirs(os.path.join(args.out, "corpus"), exist_ok=True)
    for name, text in (("train", train_text), ("heldout", heldout_text)):
        with open(os.path.join(args.out, "corpus", f"{name}.txt"), "w") as f:
            f.write(text)
    t0 = time.time()
    merges = bpe.train(train_text, args.vocab - 256 - len(bpe.SPECIAL_TOKENS))
    tok = bpe.Tokenizer(merges)
    train_ids, heldout_ids = tok.encode(train_text), tok.encode(heldout_text)
    print(f"bpe: {len(merges)} merges, vocab {tok.n_vocab}, {len(train_ids)} train / {len(heldout_ids)} "
          f"held-out tokens ({time.time() - t0:.0f} s)", flush=True)
    return tok, torch.tensor(train_ids, dtype=torch.long), heldout_ids


def train(args, model, tok, data, heldout_ids, log):
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    budget_s, start = args.minutes * 60, time.time()
    last_ckpt, step = start, 0
    while time.time() - start < budget_s:
        progress = (time.time() - start) / budget_s
        for g in opt.param_groups:
            g["lr"] = lr_at(progress, args.lr)
        starts = torch.randint(0, len(data) - args.ctx - 1, (args.batch,))
        batch = torch.stack([data[s:s + args.ctx + 1] for s in starts.tolist()])
        logits, aux, hits = model(batch[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        loss = ce + args.aux * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            load = (hits.float() / hits.sum(-1, keepdim=True)).tolist()
            rec = {"step": step, "seconds": round(time.time() - start, 1), "tokens": step * args.batch * args.ctx,
                   "loss": ce.item(), "aux": aux.item(), "lr": opt.param_groups[0]["lr"], "load": load}
            if step % 250 == 0 or step == 25:
                rec["heldout_ppl"] = evaluate.perplexity(model, heldout_ids[:args.ctx * 8], args.ctx)[0]
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(f"step {step} {rec['seconds']:.0f}s loss {rec['loss']:.3f} aux {rec['aux']:.3f}"
                  + (f" heldout ppl {rec['heldout_ppl']:.2f}" if "heldout_ppl" in rec else ""), flush=True)
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save_checkpoint(model, tok, os.path.join(args.out, "hf"))
            last_ckpt = time.time()
    return step


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    tok, data, heldout_ids = prepare_data(args)
    c = Config(vocab_size=tok.n_vocab, hidden_size=args.d_model, num_hidden_layers=args.layers,
               num_experts=args.experts, moe_intermediate_size=args.ffn, max_position_embeddings=args.ctx,
               router_aux_loss_coef=args.aux)
    model = Qwen3Moe(c)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters, config {c.to_dict()}", flush=True)
    with open(os.path.join(args.out, "log.jsonl"), "w") as log:
        steps = train(args, model, tok, data, heldout_ids, log)
    save_checkpoint(model, tok, os.path.join(args.out, "hf"))
    ppl, n_scored, hits = evaluate.perplexity(model, heldout_ids, args.ctx)
    metrics = {"steps": steps, "train_tokens": steps * args.batch * args.ctx, "n_params": n_params,
               "train_corpus_tokens": len(data), "heldout_tokens": len(heldout_ids), "n_ctx": args.ctx,
               "heldout_ppl": ppl, "heldout_scored": n_scored, "heldout_expert_hits": hits.tolist(),
               "args": vars(args)}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"done: {steps} steps, held-out ppl {ppl:.4f} over {n_scored} tokens", flush=True)


if __name__ == "__main__":
    main()
