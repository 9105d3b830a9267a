"""DeepSeek-V2/V3 Multi-head Latent Attention, computed on GGUF-stored weights.

Semantics: HF DeepseekV3Attention / DeepSeek-V3 inference/model.py MLA (naive form):
    q      = q_b(q_a_norm(q_a(x)))  or  attn_q(x)            -> [T, H, nope+rope]
    ckv    = kv_a_mqa(x) = [c_kv (kv_lora) ; k_pe (rope)]     one rope key shared by all heads
    c_kv   = kv_a_norm(c_kv)                                   k_pe is not normalised
    k_nope = W_UK[h] c_kv,  v = W_UV[h] c_kv                  per head
    q_pe, k_pe rotated ("norm" pairs: the checkpoint's interleaved layout, see below)
    o_h    = softmax([q_nope;q_pe].[k_nope;k_pe] * scale + causal) v ;  out = attn_output(o)

GGUF layout (convert_hf_to_gguf DeepseekV2Model): kv_b_proj [H*(nope+v), kv_lora] is split per
head into attn_k_b (GGUF {nope, kv_lora, H}, numpy [H, kv_lora, nope] = W_UK[h]^T) and attn_v_b
(GGUF {kv_lora, v, H}, numpy [H, v, kv_lora] = W_UV[h]); legacy files carry attn_kv_b instead
(numpy [H*(nope+v), kv_lora], the HF matrix). The converter does not permute q/k rows, so the
rope part stays in DeepSeek's interleaved order and is rotated in (x[2i], x[2i+1]) pairs; HF's
rope_interleave path de-interleaves first and then uses rotate_half, which gives the same q.k.

Scale: qk_head_dim^-0.5 * mscale^2, mscale = yarn_get_mscale(factor, mscale_all_dim) under YaRN.
"""
import math

import numpy as np

from .decoder import rope_tables
from .layers import apply_rope, causal_mask, linear, rms_norm, softmax, yarn_get_mscale


def kv_b_per_head(w, layer, config):
    """(W_UK^T [H, kv_lora, nope], W_UV [H, v, kv_lora]) from attn_k_b/attn_v_b or legacy attn_kv_b."""
    p = f"blk.{layer}."
    if p + "attn_k_b.weight" in w:
        return w[p + "attn_k_b.weight"], w[p + "attn_v_b.weight"]
    n_head, nope, v_dim = config["num_attention_heads"], config["qk_nope_head_dim"], config["v_head_dim"]
    kv_b = np.asarray(w[p + "attn_kv_b.weight"]).reshape(n_head, nope + v_dim, config["kv_lora_rank"])
    return np.swapaxes(kv_b[:, :nope], 1, 2), kv_b[:, nope:]


def softmax_scale(config):
    scale = 1.0 / math.sqrt(config["qk_nope_head_dim"] + config["qk_rope_head_dim"])
    scaling = config.get("rope_scaling")
    if scaling and scaling.get("type") == "yarn" and config.get("mscale_all_dim"):
        scale *= yarn_get_mscale(scaling["factor"], config["mscale_all_dim"]) ** 2
    return scale


def mla_projections(x, w, layer, config):
    """Per-token pieces: q_nope [T,H,nope], q_pe [T,H,rope] (rotated), c_kv [T,kv_lora], k_pe [T,rope] (rotated)."""
    p = f"blk.{layer}."
    n_tokens, n_head = x.shape[0], config["num_attention_heads"]
    nope, rope, kv_lora = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["kv_lora_rank"]
    eps = config["rms_norm_eps"]
    if p + "attn_q_a.weight" in w:
        q = linear(rms_norm(linear(x, w[p + "attn_q_a.weight"]), w[p + "attn_q_a_norm.weight"], eps),
                   w[p + "attn_q_b.weight"])
    else:  # V2-Lite: no q compression
        q = linear(x, w[p + "attn_q.weight"])
    q = q.reshape(n_tokens, n_head, nope + rope)
    ckv = linear(x, w[p + "attn_kv_a_mqa.weight"])  # [T, kv_lora + rope]
    c_kv = rms_norm(ckv[:, :kv_lora], w[p + "attn_kv_a_norm.weight"], eps)
    cos, sin = rope_tables(config, rope, n_tokens)
    q_pe = apply_rope(q[:, :, nope:], cos, sin, "norm")
    k_pe = apply_rope(ckv[:, None, kv_lora:], cos, sin, "norm")[:, 0]
    return q[:, :, :nope], q_pe, c_kv, k_pe


def mla_attention_naive(x, w, layer, config, trace=None):
    """Expand c_kv to per-head keys and values (HF's computation)."""
    p = f"blk.{layer}."
    q_nope, q_pe, c_kv, k_pe = mla_projections(x, w, layer, config)
    wk_b_t, wv_b = kv_b_per_head(w, layer, config)
    k_nope = np.einsum("tc,hcd->thd", c_kv, wk_b_t)  # [T, H, nope]
    v = np.einsum("tc,hvc->thv", c_kv, wv_b)  # [T, H, v]
    scores = np.einsum("thd,shd->hts", q_nope, k_nope) + np.einsum("thr,sr->hts", q_pe, k_pe)
    probs = softmax(scores * softmax_scale(config) + causal_mask(x.shape[0])[None], axis=-1)
    o = np.einsum("hts,shv->thv", probs, v)
    if trace is not None:
        trace[f"attn_heads-{layer}"] = o
    return linear(o.reshape(x.shape[0], -1), w[p + "attn_output.weight"])


def mla_attention_absorbed(x, w, layer, config, trace=None):
    """Attend in the kv_lora latent space (what a 576-value-per-token cache computes):
    q_abs_h = W_UK[h]^T q_nope_h, scores = q_abs.c_kv + q_pe.k_pe, o_h = W_UV[h] (p . c_kv)."""
    p = f"blk.{layer}."
    q_nope, q_pe, c_kv, k_pe = mla_projections(x, w, layer, config)
    wk_b_t, wv_b = kv_b_per_head(w, layer, config)
    q_abs = np.einsum("thd,hcd->thc", q_nope, wk_b_t)  # [T, H, kv_lora]
    scores = np.einsum("thc,sc->hts", q_abs, c_kv) + np.einsum("thr,sr->hts", q_pe, k_pe)
    probs = softmax(scores * softmax_scale(config) + causal_mask(x.shape[0])[None], axis=-1)
    o_latent = np.einsum("hts,sc->thc", probs, c_kv)  # [T, H, kv_lora]
    o = np.einsum("thc,hvc->thv", o_latent, wv_b)
    return linear(o.reshape(x.shape[0], -1), w[p + "attn_output.weight"])
