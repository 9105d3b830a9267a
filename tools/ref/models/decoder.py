"""The pre-norm decoder every supported architecture shares, and standard (GQA) attention.

    h   = token_embd[tokens]
    h  += attention(attn_norm(h))           per layer
    h  += ffn(ffn_norm(h))
    out = output(output_norm(h))            output falls back to token_embd (tied)

`config` is a dict with HF-style keys (see models/__init__.py); `w` maps GGUF tensor names to
numpy arrays in PyTorch layout. `trace`, when a dict, receives named intermediates
("attn_out-3", "ffn_out-3", ...) for layer-by-layer diffs against the engine.
"""
import math

import numpy as np

from .layers import apply_rope, causal_attention, linear, rms_norm, rope_cos_sin, rope_inv_freq


def rope_tables(config, n_rot, n_tokens):
    inv_freq, magnitude = rope_inv_freq(n_rot, config["rope_theta"], config.get("rope_scaling"))
    return rope_cos_sin(np.arange(n_tokens), inv_freq, magnitude)


def gqa_attention(x, w, layer, config, trace=None):
    """Multi-head attention with n_kv_head <= n_head (GQA), optional q/k/v biases (Qwen2) and
    optional per-head q/k RMSNorm before RoPE (Qwen3, "only on the head dim").

    x [T, n_embd]; attn_q [n_head*head_dim, n_embd]; attn_k/attn_v [n_kv*head_dim, n_embd];
    attn_output [n_embd, n_head*head_dim].
    """
    p = f"blk.{layer}."
    n_tokens = x.shape[0]
    n_head, n_kv, head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    q = linear(x, w[p + "attn_q.weight"], w.get(p + "attn_q.bias")).reshape(n_tokens, n_head, head_dim)
    k = linear(x, w[p + "attn_k.weight"], w.get(p + "attn_k.bias")).reshape(n_tokens, n_kv, head_dim)
    v = linear(x, w[p + "attn_v.weight"], w.get(p + "attn_v.bias")).reshape(n_tokens, n_kv, head_dim)
    if p + "attn_q_norm.weight" in w:
        q = rms_norm(q, w[p + "attn_q_norm.weight"], config["rms_norm_eps"])
        k = rms_norm(k, w[p + "attn_k_norm.weight"], config["rms_norm_eps"])
    cos, sin = rope_tables(config, config.get("rope_dim", head_dim), n_tokens)
    q = apply_rope(q, cos, sin, config["rope_style"])
    k = apply_rope(k, cos, sin, config["rope_style"])
    o = causal_attention(q, k, v, 1.0 / math.sqrt(head_dim))
    if trace is not None:
        trace[f"attn_heads-{layer}"] = o
    return linear(o.reshape(n_tokens, n_head * head_dim), w[p + "attn_output.weight"])


def forward(w, config, tokens, attention, ffn, trace=None):
    """Logits [n_tokens, n_vocab] float32 for token ids `tokens`; attention/ffn(x, w, layer, config, trace)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    embd = w["token_embd.weight"]  # [n_vocab, n_embd]
    if tokens.min() < 0 or tokens.max() >= embd.shape[0]:
        raise ValueError(f"token id out of range [0, {embd.shape[0]})")
    eps = config["rms_norm_eps"]
    h = np.asarray(embd[tokens], dtype=np.float64)
    for layer in range(config["num_hidden_layers"]):
        p = f"blk.{layer}."
        attn_out = attention(rms_norm(h, w[p + "attn_norm.weight"], eps), w, layer, config, trace)
        h = h + attn_out
        ffn_out = ffn(rms_norm(h, w[p + "ffn_norm.weight"], eps), w, layer, config, trace)
        h = h + ffn_out
        if trace is not None:
            trace[f"attn_out-{layer}"], trace[f"ffn_out-{layer}"], trace[f"l_out-{layer}"] = attn_out, ffn_out, h
    h = rms_norm(h, w["output_norm.weight"], eps)
    head = w["output.weight"] if "output.weight" in w else embd
    return linear(h, head).astype(np.float32)
