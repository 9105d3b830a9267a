"""DeepSeek-V2 / V2-Lite / V3 (GGUF architecture "deepseek2"), following HF DeepseekV3ForCausalLM
and deepseek-ai/DeepSeek-V3 inference/model.py.

- Attention: MLA (models/mla.py), with q LoRA (q_lora_rank > 0) or a plain q projection (Lite).
- Layers < first_k_dense_replace (GGUF leading_dense_block_count) use a dense SwiGLU MLP.
- MoE layers: router + shared experts (n_shared_experts * moe_intermediate_size wide), added
  without a gate.
  - V3 (expert_gating_func 2 = sigmoid): sigmoid scores; e_score_correction_bias
    (exp_probs_b.bias) is added for selection only; groups scored by the sum of their top-2
    biased scores, topk_group groups kept (-inf elsewhere, as the reference and llama.cpp mask);
    weights = unbiased scores, normalised when norm_topk_prob, then * routed_scaling_factor.
  - V2 (softmax, the default when the key is absent): softmax scores; group_limited_greedy
    scores groups by their max (HF DeepseekV2Moe; llama.cpp uses the top-2 sum here, which can
    pick different experts for V2 / V2.5, not for V2-Lite which has no groups); no
    renormalisation unless expert_weights_norm is set; * routed_scaling_factor.
- YaRN: frequencies as HF; cos/sin magnitude 1 (HF's attention_factor = mscale/mscale_all_dim is
  1 for the released configs, and llama.cpp cancels its own factor); the softmax scale carries
  yarn_get_mscale(factor, mscale_all_dim)^2, mscale_all_dim = rope.scaling.yarn_log_multiplier / 0.1
  (the converter stores 0.1 * mscale_all_dim). HF's native DeepseekV2Attention omits that mscale^2;
  the DeepSeek remote code, the V3 reference and llama.cpp apply it, and so does this reference.
"""
from . import decoder, mla, moe
from .gguf_loader import Meta, base_config
from .router import RouterSpec

ARCHS = ("deepseek2",)

_GATING = {0: "softmax", 1: "softmax", 2: "sigmoid"}  # llama.cpp ExpertGatingFuncType


def config_from_gguf(metadata, weights):
    meta = Meta(metadata)
    config = base_config(meta, weights)
    rope = int(meta.get("rope.dimension_count"))
    # MLA GGUFs give the per-head q/k and v sizes in key_length_mla/value_length_mla (key_length is
    # then kv_lora + rope, the MQA view); legacy GGUFs give them in key_length/value_length.
    qk_head = int(meta.get("attention.key_length_mla", meta.get("attention.key_length")))
    v_head = int(meta.get("attention.value_length_mla", meta.get("attention.value_length")))
    gating_id = int(meta.get("expert_gating_func", 0))
    if gating_id not in _GATING:
        raise ValueError(f"{meta.arch}.expert_gating_func = {gating_id} is not softmax (1) or sigmoid (2)")
    config.update({
        "q_lora_rank": int(meta.get("attention.q_lora_rank", 0)),
        "kv_lora_rank": int(meta.get("attention.kv_lora_rank")),
        "qk_rope_head_dim": rope,
        "qk_nope_head_dim": qk_head - rope,
        "v_head_dim": v_head,
        "first_k_dense_replace": int(meta.get("leading_dense_block_count", 0)),
        "n_routed_experts": int(meta.get("expert_count", 0)),
        "num_experts_per_tok": int(meta.get("expert_used_count", 0)),
        "n_shared_experts": int(meta.get("expert_shared_count", 0)),
        "gating": _GATING[gating_id],
        "norm_topk_prob": bool(meta.get("expert_weights_norm", False)),
        "routed_scaling_factor": float(meta.get("expert_weights_scale", 1.0)),
        "n_group": int(meta.get("expert_group_count", 1)),
        "topk_group": int(meta.get("expert_group_used_count", 1)),
        "mscale_all_dim": float(meta.get("rope.scaling.yarn_log_multiplier", 0.0)) / 0.1,
    })
    if config["rope_scaling"] and config["rope_scaling"]["type"] == "yarn":
        config["rope_scaling"]["attention_factor"] = 1.0
    return config


def router_spec(config):
    return RouterSpec(
        n_experts_used=config["num_experts_per_tok"], gating=config["gating"],
        norm_topk_prob=config["norm_topk_prob"], scaling_factor=config["routed_scaling_factor"],
        n_group=config["n_group"], topk_group=config["topk_group"],
        group_score="top2sum" if config["gating"] == "sigmoid" else "max")


def ffn(x, w, layer, config, trace=None):
    if layer < config["first_k_dense_replace"]:
        return moe.dense_ffn(x, w, layer)
    return moe.moe_ffn(x, w, layer, router_spec(config), trace)


def forward(w, config, tokens, trace=None, absorbed=False):
    attention = mla.mla_attention_absorbed if absorbed else mla.mla_attention_naive
    return decoder.forward(w, config, tokens, attention, ffn, trace)
