#!/usr/bin/python3
"""Writes a Hugging Face Qwen3-MoE folder (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) as a GGUF with llama.cpp's names and keys, all tensors F32.

A stop-gap until `moxie convert` lands: the shipped file should then be re-made with it.
Names and keys follow llama.cpp's convert_hf_to_gguf.py for Qwen3MoeForCausalLM:
  token_embd, output_norm, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm,
  attn_k_norm, ffn_norm, ffn_gate_inp, ffn_gate_exps, ffn_up_exps, ffn_down_exps}
  (no output.weight: tied embeddings); experts stacked as [E, out, in] -> ne (in, out, E);
  HF q/k rows are kept as they are (NeoX RoPE).

    export_gguf.py HF_FOLDER OUT.gguf
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import gguf  # noqa: E402  (tools/ref/gguf.py: the project's own GGUF writer)

from hf_format import read_safetensors  # noqa: E402

F32 = 0
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3


def tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return (F32, tuple(reversed(a.shape)), a)


def gguf_tensors(w, n_layer, n_expert):
    out = {"token_embd.weight": tensor(w["model.embed_tokens.weight"]),
           "output_norm.weight": tensor(w["model.norm.weight"])}
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
             "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "ffn_norm", "mlp.gate": "ffn_gate_inp"}
    for i in range(n_layer):
        p = f"model.layers.{i}."
        for hf, gg in names.items():
            out[f"blk.{i}.{gg}.weight"] = tensor(w[p + hf + ".weight"])
        for hf, gg in (("gate_proj", "ffn_gate_exps"), ("up_proj", "ffn_up_exps"), ("down_proj", "ffn_down_exps")):
            stacked = np.stack([w[p + f"mlp.experts.{e}.{hf}.weight"] for e in range(n_expert)])
            out[f"blk.{i}.{gg}.weight"] = tensor(stacked)
    return out


def tokenizer_metadata(folder):
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    special = {t["content"]: t["id"] for t in tj["added_tokens"]}
    vocab.update(special)
    tokens = [None] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        tokens[i] = t
    if any(t is None for t in tokens):
        raise ValueError(f"{folder}/tokenizer.json: token ids are not contiguous")
    types = [TOKEN_CONTROL if t in special else TOKEN_NORMAL for t in tokens]
    S, A = gguf.STRING, gguf.ARRAY
    return [
        ("tokenizer.ggml.model", S, "gpt2"),
        ("tokenizer.ggml.pre", S, "qwen2"),
        ("tokenizer.ggml.tokens", (A, S), tokens),
        ("tokenizer.ggml.token_type", (A, gguf.I32), types),
        ("tokenizer.ggml.merges", (A, S), tj["model"]["merges"]),
        ("tokenizer.ggml.eos_token_id", gguf.U32, vocab[tc["eos_token"]]),
        ("tokenizer.ggml.padding_token_id", gguf.U32, vocab[tc["pad_token"]]),
        ("tokenizer.ggml.add_bos_token", gguf.BOOL, bool(tc.get("add_bos_token", False))),
        ("tokenizer.chat_template", S, tc["chat_template"]),
    ]


def model_metadata(c, name):
    a, U, F = "qwen3moe", gguf.U32, gguf.F32
    return [
        ("general.architecture", gguf.STRING, a),
        ("general.name", gguf.STRING, name),
        ("general.file_type", U, 0),  # all F32
        (f"{a}.context_length", U, c["max_position_embeddings"]),
        (f"{a}.embedding_length", U, c["hidden_size"]),
        (f"{a}.block_count", U, c["num_hidden_layers"]),
        (f"{a}.feed_forward_length", U, c["intermediate_size"]),
        (f"{a}.attention.head_count", U, c["num_attention_heads"]),
        (f"{a}.attention.head_count_kv", U, c["num_key_value_heads"]),
        (f"{a}.attention.key_length", U, c["head_dim"]),
        (f"{a}.attention.value_length", U, c["head_dim"]),
        (f"{a}.rope.freq_base", F, float(c["rope_theta"])),
        (f"{a}.attention.layer_norm_rms_epsilon", F, float(c["rms_norm_eps"])),
        (f"{a}.expert_count", U, c["num_experts"]),
        (f"{a}.expert_used_count", U, c["num_experts_per_tok"]),
        (f"{a}.expert_feed_forward_length", U, c["moe_intermediate_size"]),
    ]


def export(folder, out_path, name="moxie-demo"):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    if c.get("model_type") != "qwen3_moe" or not c.get("tie_word_embeddings"):
        raise ValueError(f"{folder}/config.json: expected a tied-embedding qwen3_moe model")
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    metadata = model_metadata(c, name) + tokenizer_metadata(folder)
    gguf.write(out_path, metadata, gguf_tensors(w, c["num_hidden_layers"], c["num_experts"]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    export(sys.argv[1], sys.argv[2])
