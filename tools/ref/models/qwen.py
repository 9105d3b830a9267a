"""Qwen2, Qwen3 (dense) and Qwen2-MoE, Qwen3-MoE, following HF Qwen{2,3}{,Moe}ForCausalLM.

- Attention: GQA; Qwen2 has q/k/v biases (qkv_bias, o_proj without); Qwen3 RMS-normalises q and k
  per head ("only on the head dim") before RoPE. RoPE is NEOX / rotate_half: (x[i], x[i+d/2]),
  and the converter stores the HF q/k rows unpermuted, so GGUF weights rotate the same way.
- Qwen3-MoE FFN: softmax over all experts, top-k, renormalised when norm_topk_prob (set in the
  released configs; llama.cpp hard-codes it on), no shared expert.
- Qwen2-MoE FFN: softmax top-k, no renormalisation unless configured (HF default False; llama.cpp
  hard-codes off), plus a shared expert scaled by sigmoid(shared_expert_gate x).
- A layer whose GGUF block has ffn_gate/ffn_up/ffn_down instead of ffn_gate_inp is dense
  (Qwen2-MoE mlp_only_layers / decoder_sparse_step).
"""
from . import decoder, moe
from .gguf_loader import Meta, base_config
from .router import RouterSpec

ARCHS = ("qwen2", "qwen3", "qwen2moe", "qwen3moe")


def config_from_gguf(metadata, weights):
    meta = Meta(metadata)
    config = base_config(meta, weights)
    config["rope_style"] = "neox"
    config["rope_dim"] = int(meta.get("rope.dimension_count", config["head_dim"]))
    if meta.arch in ("qwen2moe", "qwen3moe"):
        config["num_experts"] = int(meta.get("expert_count"))
        config["num_experts_per_tok"] = int(meta.get("expert_used_count"))
        config["norm_topk_prob"] = bool(meta.get("expert_weights_norm", meta.arch == "qwen3moe"))
    return config


def router_spec(config):
    return RouterSpec(n_experts_used=config["num_experts_per_tok"], gating="softmax",
                      norm_topk_prob=config["norm_topk_prob"])


def ffn(x, w, layer, config, trace=None):
    if moe.is_moe_layer(w, layer):
        return moe.moe_ffn(x, w, layer, router_spec(config), trace)
    return moe.dense_ffn(x, w, layer)


def forward(w, config, tokens, trace=None):
    return decoder.forward(w, config, tokens, decoder.gqa_attention, ffn, trace)
