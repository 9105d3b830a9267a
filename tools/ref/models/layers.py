"""Building blocks shared by the numpy reference forwards (float64 throughout).

Activations are [n_tokens, ...] float64 arrays. Weights are numpy arrays in PyTorch layout:
a Linear is [out, in] and `linear(x, W)` computes x @ W.T. (A GGUF tensor with ne {in, out}
reshaped to the reversed ne is exactly this array.)
"""
import math

import numpy as np


def linear(x, w, bias=None):
    """x [T, in] @ w[out, in].T (+ bias[out]) -> [T, out], in float64."""
    y = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64).T
    return y if bias is None else y + bias


def rms_norm(x, weight, eps):
    """RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(z):
    return z / (1.0 + np.exp(-z))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def swiglu_ffn(x, w_gate, w_up, w_down):
    """SwiGLU MLP: down( silu(gate x) * (up x) ). w_gate/w_up [n_ff, n_embd], w_down [n_embd, n_ff]."""
    return linear(silu(linear(x, w_gate)) * linear(x, w_up), w_down)


# ---------------------------------------------------------------------------------------------
# RoPE

def yarn_get_mscale(scale, mscale=1.0):
    """HF/DeepSeek yarn_get_mscale: 0.1 * mscale * ln(scale) + 1 for scale > 1, else 1."""
    return 1.0 if scale <= 1.0 else 0.1 * mscale * math.log(scale) + 1.0


def rope_inv_freq(n_rot, base, scaling=None):
    """Inverse frequencies theta_i = base^(-2i/n_rot), i < n_rot/2, and the cos/sin magnitude.

    scaling: None, {"type": "linear", "factor"} or {"type": "yarn", "factor",
    "original_max_position_embeddings", "beta_fast" (32), "beta_slow" (1), "attention_factor"}.
    YaRN follows HF _compute_yarn_parameters / DeepSeek precompute_freqs_cis: the correction range
    uses floor/ceil clamped to [0, n_rot-1], the ramp is over pair indices, and frequencies below
    the range are divided by factor. attention_factor (cos/sin magnitude) defaults to HF's
    yarn_get_mscale(factor) when not given.
    """
    inv = base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    if not scaling or scaling.get("type", "none") == "none":
        return inv, 1.0
    kind, factor = scaling["type"], float(scaling["factor"])
    if kind == "linear":
        return inv / factor, 1.0
    if kind != "yarn":
        raise NotImplementedError(f"rope scaling type {kind!r} is not implemented in the reference")
    orig = float(scaling["original_max_position_embeddings"])
    beta_fast, beta_slow = scaling.get("beta_fast", 32.0), scaling.get("beta_slow", 1.0)

    def correction_dim(n_rotations):
        return n_rot * math.log(orig / (n_rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), n_rot - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(n_rot // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    extrapolation = 1.0 - ramp  # 1 keeps the original frequency, 0 fully interpolates
    inv = (inv / factor) * (1.0 - extrapolation) + inv * extrapolation
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        attention_factor = yarn_get_mscale(factor)
    return inv, float(attention_factor)


def rope_cos_sin(positions, inv_freq, magnitude=1.0):
    """cos/sin tables [T, n_rot/2] for integer positions [T]."""
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(angles) * magnitude, np.sin(angles) * magnitude


def apply_rope(x, cos, sin, style):
    """Rotate the first 2*len(inv_freq) dims of x [T, n_head, head_dim]; the rest pass through.

    style "norm": pairs (x[2i], x[2i+1]) (llama.cpp ROPE_TYPE_NORM; DeepSeek's complex form).
    style "neox": pairs (x[i], x[i+n_rot/2]) (llama.cpp ROPE_TYPE_NEOX; HF rotate_half).
    """
    n_rot = 2 * cos.shape[-1]
    rot, rest = x[..., :n_rot], x[..., n_rot:]
    c, s = cos[:, None, :], sin[:, None, :]
    if style == "norm":
        a, b = rot[..., 0::2], rot[..., 1::2]
        out = np.empty_like(rot)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
    elif style == "neox":
        a, b = rot[..., : n_rot // 2], rot[..., n_rot // 2:]
        out = np.concatenate([a * c - b * s, a * s + b * c], axis=-1)
    else:
        raise ValueError(f"unknown rope style {style!r}")
    return np.concatenate([out, rest], axis=-1)


# ---------------------------------------------------------------------------------------------
# Attention

def causal_mask(n_tokens):
    """[T, T] additive mask: 0 where key s <= query t, -inf after."""
    return np.where(np.tril(np.ones((n_tokens, n_tokens), dtype=bool)), 0.0, -np.inf)


def causal_attention(q, k, v, scale):
    """Full causal attention with grouped KV heads.

    q [T, n_head, d_k], k [T, n_kv, d_k], v [T, n_kv, d_v]; n_head % n_kv == 0 and query head h
    reads kv head h // (n_head / n_kv) (HF repeat_kv). Returns [T, n_head, d_v].
    """
    n_tokens, n_head, _ = q.shape
    group = n_head // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, k) * scale + causal_mask(n_tokens)[None]
    return np.einsum("hts,shd->thd", softmax(scores, axis=-1), v)
