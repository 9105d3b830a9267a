"""Feed-forward blocks of one decoder layer: dense SwiGLU, or routed experts plus shared experts.

Weights are read by GGUF tensor name from `w`, a mapping name -> numpy array in PyTorch layout
(the GGUF ne reversed): ffn_{gate,up}_exps [n_expert, n_ff, n_embd], ffn_down_exps
[n_expert, n_embd, n_ff], ffn_gate_inp [n_expert, n_embd], the shared expert like a dense FFN.
"""
import numpy as np

from .layers import linear, sigmoid, swiglu_ffn
from .router import route


def dense_ffn(x, w, layer):
    p = f"blk.{layer}."
    return swiglu_ffn(x, w[p + "ffn_gate.weight"], w[p + "ffn_up.weight"], w[p + "ffn_down.weight"])


def is_moe_layer(w, layer):
    return f"blk.{layer}.ffn_gate_inp.weight" in w


def route_layer(x, w, layer, spec):
    """Router of one layer on its (already normed) input x [T, n_embd] -> (experts, weights) [T, k]."""
    p = f"blk.{layer}."
    logits = linear(x, w[p + "ffn_gate_inp.weight"])
    bias = w.get(p + "exp_probs_b.bias")  # DeepSeek-V3 e_score_correction_bias: selection only
    return route(logits, spec, bias=None if bias is None else np.asarray(bias, dtype=np.float64))


def routed_experts(x, experts, weights, gate_exps, up_exps, down_exps):
    """sum_k weights[t, k] * Expert_{experts[t, k]}(x[t]), computed one expert at a time."""
    out = np.zeros((x.shape[0], down_exps.shape[1]), dtype=np.float64)
    for e in np.unique(experts):
        rows, slots = np.nonzero(experts == e)
        y = swiglu_ffn(x[rows], gate_exps[e], up_exps[e], down_exps[e])
        out[rows] += weights[rows, slots][:, None] * y
    return out


def shared_expert(x, w, layer):
    """Shared expert(s), if the layer has them; Qwen2-MoE also gates them with sigmoid(W_sg x)."""
    p = f"blk.{layer}."
    if p + "ffn_gate_shexp.weight" not in w:
        return 0.0
    y = swiglu_ffn(x, w[p + "ffn_gate_shexp.weight"], w[p + "ffn_up_shexp.weight"], w[p + "ffn_down_shexp.weight"])
    gate = w.get(p + "ffn_gate_inp_shexp.weight")
    if gate is not None:
        y = y * sigmoid(linear(x, np.reshape(gate, (1, -1))))  # [T, 1]: one scalar gate per token
    return y


def moe_ffn(x, w, layer, spec, trace=None):
    """Routed experts (top-k of n_expert) plus any shared expert, for x [T, n_embd]."""
    p = f"blk.{layer}."
    experts, weights = route_layer(x, w, layer, spec)
    if trace is not None:
        trace[f"ffn_moe_experts-{layer}"] = experts
        trace[f"ffn_moe_weights-{layer}"] = weights
    routed = routed_experts(x, experts, weights, w[p + "ffn_gate_exps.weight"], w[p + "ffn_up_exps.weight"],
                            w[p + "ffn_down_exps.weight"])
    return routed + shared_expert(x, w, layer)
