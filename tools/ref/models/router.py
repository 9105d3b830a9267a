"""MoE routers: which experts each token uses and with what weight.

One function covers the routers of Mixtral, Qwen2-MoE, Qwen3-MoE, DeepSeek-V2 and -V3 (HF
MixtralSparseMoeBlock, Qwen2MoeTopKRouter, DeepseekV2Moe, DeepseekV3MoE.route_tokens_to_experts;
DeepSeek-V3 inference/model.py Gate):

    probs     = softmax(logits) or sigmoid(logits)              # over all experts
    selection = probs + bias                                    # bias: V3 e_score_correction_bias
    groups    : score each of n_group groups (sum of its top-2 selection scores, or its max),
                keep the best topk_group groups, mask the rest to -inf
    experts   = top-k of selection
    weights   = probs[experts]                                  # the bias never reaches the weights
    weights  /= sum(weights)          if norm_topk_prob
    weights  *= routed_scaling_factor

Ties: the lower expert index (and lower group index) wins, via a stable sort.
"""
from dataclasses import dataclass

import numpy as np

from .layers import sigmoid, softmax


@dataclass
class RouterSpec:
    n_experts_used: int
    gating: str = "softmax"        # "softmax" | "sigmoid"
    norm_topk_prob: bool = False
    scaling_factor: float = 1.0    # routed_scaling_factor / expert_weights_scale
    n_group: int = 1
    topk_group: int = 1
    group_score: str = "top2sum"   # "top2sum" (V3, llama.cpp) | "max" (V2 group_limited_greedy)


def _top_indices(scores, k):
    """Indices [T, k] of the k largest scores per row, the lower index first among equals."""
    return np.argsort(-scores, axis=-1, kind="stable")[:, :k]


def _mask_groups(selection, spec):
    n_tokens, n_experts = selection.shape
    if n_experts % spec.n_group:
        raise ValueError(f"{n_experts} experts do not split into {spec.n_group} groups")
    grouped = selection.reshape(n_tokens, spec.n_group, n_experts // spec.n_group)
    if spec.group_score == "top2sum":
        group_scores = -np.sort(-grouped, axis=-1)[..., :2].sum(axis=-1)
    elif spec.group_score == "max":
        group_scores = grouped.max(axis=-1)
    else:
        raise ValueError(f"unknown group score {spec.group_score!r}")
    kept = _top_indices(group_scores, spec.topk_group)  # [T, topk_group]
    keep = np.zeros((n_tokens, spec.n_group), dtype=bool)
    np.put_along_axis(keep, kept, True, axis=-1)
    return np.where(np.repeat(keep, n_experts // spec.n_group, axis=-1), selection, -np.inf)


def route(logits, spec, bias=None):
    """Router logits [T, n_expert] -> (experts [T, k] int, weights [T, k] float64)."""
    logits = np.asarray(logits, dtype=np.float64)
    if spec.gating == "softmax":
        probs = softmax(logits, axis=-1)
    elif spec.gating == "sigmoid":
        probs = sigmoid(logits)
    else:
        raise ValueError(f"unknown gating {spec.gating!r}")
    selection = probs if bias is None else probs + bias
    if spec.n_group > 1:
        selection = _mask_groups(selection, spec)
    experts = _top_indices(selection, spec.n_experts_used)
    weights = np.take_along_axis(probs, experts, axis=-1)
    if spec.norm_topk_prob:
        weights = weights / (weights.sum(axis=-1, keepdims=True) + 1e-20)
    return experts, weights * spec.scaling_factor
