"""Llama (dense) and Mixtral-style MoE stored as GGUF architecture "llama".

Semantics: HF LlamaForCausalLM / MixtralForCausalLM. HF applies rotate_half (pairs (x[i],
x[i+d/2])) to its q/k rows; llama.cpp's converter permutes those rows per head
(reshape(n_head, 2, d/2, in).swapaxes(1, 2)) so that GGUF-stored q/k rotate in consecutive pairs
(ROPE_TYPE_NORM). On GGUF weights the reference therefore uses "norm" pairs and reproduces HF's
logits (test_models checks this against an HF-layout forward).
Mixtral router: softmax over all experts, top-k, renormalise (HF routing_weights /= sum).
"""
from . import decoder, moe
from .gguf_loader import Meta, base_config
from .router import RouterSpec

ARCHS = ("llama",)


def config_from_gguf(metadata, weights):
    meta = Meta(metadata)
    config = base_config(meta, weights)
    config["rope_style"] = "norm"
    config["rope_dim"] = int(meta.get("rope.dimension_count", config["head_dim"]))
    n_expert = int(meta.get("expert_count", 0))
    if n_expert:
        config["num_experts"] = n_expert
        config["num_experts_per_tok"] = int(meta.get("expert_used_count"))
    return config


def router_spec(config):
    return RouterSpec(n_experts_used=config["num_experts_per_tok"], gating="softmax", norm_topk_prob=True)


def ffn(x, w, layer, config, trace=None):
    if moe.is_moe_layer(w, layer):
        return moe.moe_ffn(x, w, layer, router_spec(config), trace)
    return moe.dense_ffn(x, w, layer)


def forward(w, config, tokens, trace=None):
    return decoder.forward(w, config, tokens, decoder.gqa_attention, ffn, trace)
