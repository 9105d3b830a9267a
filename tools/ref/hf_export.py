#!/usr/bin/python3
"""Writes a GGUF model as a Hugging Face checkpoint folder, for testing `moxie convert`.

    hf_export.py MODEL.gguf OUT_DIR [--dtype f32|bf16|f16|fp8] [--shard-bytes N] [--fp8-block N]

OUT_DIR gets config.json, tokenizer.json, tokenizer_config.json and model.safetensors, or
model-0000i-of-0000n.safetensors shards plus model.safetensors.index.json with
--shard-bytes. It undoes what llama.cpp's converter does: GGUF {in, out} back to HF
[out, in], stacked experts split into mlp.experts.{e}.X_proj, Llama's q/k rows permuted
back to HF's rotate-half order, DeepSeek's attn_k_b/attn_v_b merged into kv_b_proj.

--dtype applies to matrices (2-D and more); vectors (norms, biases) stay F32, so a GGUF
whose matrices are BF16 exports without loss at --dtype bf16. fp8 writes matrices other
than embeddings, lm_head and routers as F8_E4M3 with per-block weight_scale_inv (as
DeepSeek-V3 ships), block --fp8-block x --fp8-block (default 128).

The safetensors writer is written here from the format: an 8-byte little-endian header
length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw bytes.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dequant  # noqa: E402
import gguf  # noqa: E402

# The Split patterns of each pre-tokenizer family's tokenizer.json (GGUF tokenizer.ggml.pre).
GPT4_1DIGIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
GPT4_3DIGITS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
DEEPSEEK_V3 = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
]
PRE_PATTERNS = {"qwen2": [GPT4_1DIGIT], "llama-bpe": [GPT4_3DIGITS], "deepseek-v3": DEEPSEEK_V3}

HF_ARCH = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
           "qwen2moe": "Qwen2MoeForCausalLM", "qwen3moe": "Qwen3MoeForCausalLM",
           "deepseek2": "DeepseekV3ForCausalLM"}

LAYER_NAMES = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
    "attn_q_a": "self_attn.q_a_proj", "attn_q_a_norm": "self_attn.q_a_layernorm", "attn_q_b": "self_attn.q_b_proj",
    "attn_kv_a_mqa": "self_attn.kv_a_proj_with_mqa", "attn_kv_a_norm": "self_attn.kv_a_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    "ffn_gate_inp": "mlp.gate", "ffn_gate_inp_shexp": "mlp.shared_expert_gate",
}


class Meta:
    def __init__(self, md):
        self.md = md
        self.arch = md["general.architecture"]

    def get(self, key, default=None):
        return self.md.get(f"{self.arch}.{key}", default)


# ----------------------------------------------------------------------------- config.json

def rope_scaling(m):
    kind = m.get("rope.scaling.type", "none")
    if kind in ("none", None):
        return None
    out = {"type": kind, "factor": m.get("rope.scaling.factor")}
    if kind == "yarn":
        out["original_max_position_embeddings"] = m.get("rope.scaling.original_context_length")
        out["beta_fast"] = m.get("rope.scaling.yarn_beta_fast", 32.0)
        out["beta_slow"] = m.get("rope.scaling.yarn_beta_slow", 1.0)
        if m.arch == "deepseek2":
            mscale = m.get("rope.scaling.yarn_log_multiplier", 0.0) / 0.1
            out["mscale"] = out["mscale_all_dim"] = mscale
    return out


def hf_config(m, tied):
    c = {"architectures": [HF_ARCH[m.arch]], "hidden_size": m.get("embedding_length"),
         "num_hidden_layers": m.get("block_count"), "max_position_embeddings": m.get("context_length"),
         "num_attention_heads": m.get("attention.head_count"),
         "num_key_value_heads": m.get("attention.head_count_kv", m.get("attention.head_count")),
         "rms_norm_eps": m.get("attention.layer_norm_rms_epsilon"), "rope_theta": m.get("rope.freq_base", 10000.0),
         "vocab_size": m.get("vocab_size", len(m.md["tokenizer.ggml.tokens"])), "tie_word_embeddings": tied,
         "torch_dtype": "bfloat16"}
    if m.get("feed_forward_length") is not None:
        c["intermediate_size"] = m.get("feed_forward_length")
    if m.arch != "deepseek2":
        c["head_dim"] = m.get("attention.key_length", c["hidden_size"] // c["num_attention_heads"])
    if m.arch in ("qwen2moe", "qwen3moe"):
        c.update(num_experts=m.get("expert_count"), num_experts_per_tok=m.get("expert_used_count"),
                 moe_intermediate_size=m.get("expert_feed_forward_length"), decoder_sparse_step=1, mlp_only_layers=[],
                 norm_topk_prob=bool(m.get("expert_weights_norm", m.arch == "qwen3moe")))
        if m.arch == "qwen2moe":
            c["shared_expert_intermediate_size"] = m.get("expert_shared_feed_forward_length", 0)
    if m.arch == "deepseek2":
        c.update(deepseek_config(m))
    scaling = rope_scaling(m)
    if scaling:
        c["rope_scaling"] = scaling
    return c


def deepseek_config(m):
    rope = m.get("rope.dimension_count")
    sigmoid = m.get("expert_gating_func", 1) == 2
    n_group = m.get("expert_group_count", 1)
    method = "noaux_tc" if sigmoid else ("group_limited_greedy" if n_group > 1 else "greedy")
    return {"num_key_value_heads": m.get("attention.head_count"), "q_lora_rank": m.get("attention.q_lora_rank"),
            "kv_lora_rank": m.get("attention.kv_lora_rank"), "qk_rope_head_dim": rope,
            "qk_nope_head_dim": m.get("attention.key_length_mla") - rope,
            "v_head_dim": m.get("attention.value_length_mla"), "n_routed_experts": m.get("expert_count"),
            "n_shared_experts": m.get("expert_shared_count", 0), "num_experts_per_tok": m.get("expert_used_count"),
            "moe_intermediate_size": m.get("expert_feed_forward_length"),
            "first_k_dense_replace": m.get("leading_dense_block_count", 0),
            "routed_scaling_factor": m.get("expert_weights_scale", 1.0),
            "norm_topk_prob": bool(m.get("expert_weights_norm", False)),
            "scoring_func": "sigmoid" if sigmoid else "softmax", "topk_method": method,
            "n_group": n_group, "topk_group": m.get("expert_group_used_count", n_group),
            "num_nextn_predict_layers": 0}


# ----------------------------------------------------------------------------- tensors

def gguf_array(t):
    """A GGUF tensor as float32 numpy in PyTorch order (ne reversed)."""
    n = int(np.prod(t.ne))
    return dequant.dequantize(t.type, bytes(t.data), n).reshape(tuple(reversed(t.ne)))


def unpermute_llama(w, n_head):
    """Inverse of llama.cpp's permute: GGUF pairwise rope order back to HF rotate-half order."""
    hd = w.shape[0] // n_head
    return w.reshape(n_head, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def layer_tensors(m, il, base, suffix, a, tensors):
    """HF (name, array) pairs for GGUF tensor blk.il.base.suffix with values a."""
    p = f"model.layers.{il}."
    if base == "attn_k_b":  # {nope, kv_lora, H} -> numpy [H, kv_lora, nope]; merged with v_b below
        v_b = gguf_array(tensors[f"blk.{il}.attn_v_b.weight"])  # [H, v, kv_lora]
        k_b = a.transpose(0, 2, 1)  # [H, nope, kv_lora]
        kv_b = np.concatenate([k_b, v_b], axis=1)
        return [(p + "self_attn.kv_b_proj.weight", kv_b.reshape(-1, kv_b.shape[2]))]
    if base == "attn_v_b":
        return []
    if base == "exp_probs_b":
        return [(p + "mlp.gate.e_score_correction_bias", a)]
    for proj in ("gate", "up", "down"):
        if base == f"ffn_{proj}_exps":
            return [(p + f"mlp.experts.{e}.{proj}_proj.weight", a[e]) for e in range(a.shape[0])]
        if base == f"ffn_{proj}_shexp":
            block = "mlp.shared_expert." if m.arch == "qwen2moe" else "mlp.shared_experts."
            return [(p + block + f"{proj}_proj.{suffix}", a)]
    if base == "ffn_gate_inp_shexp":
        a = a.reshape(1, -1)  # HF Linear(n_embd, 1)
    if m.arch == "llama" and suffix == "weight" and base in ("attn_q", "attn_k"):
        n = m.get("attention.head_count") if base == "attn_q" else m.get("attention.head_count_kv")
        a = unpermute_llama(a, n)
    return [(p + LAYER_NAMES[base] + "." + suffix, a)]


def hf_tensors(m, tensors):
    out = []
    for name, t in tensors.items():
        a = gguf_array(t)
        if name == "token_embd.weight":
            out.append(("model.embed_tokens.weight", a))
        elif name == "output_norm.weight":
            out.append(("model.norm.weight", a))
        elif name == "output.weight":
            out.append(("lm_head.weight", a))
        else:
            _, il, rest = name.split(".", 2)
            base, suffix = rest.rsplit(".", 1)
            out.extend(layer_tensors(m, int(il), base, suffix, a, tensors))
    return out


# ----------------------------------------------------------------------------- dtypes

def to_bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even."""
    x = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    x = (x + 0x7FFF + ((x >> 16) & 1)) >> 16
    return x.astype(np.uint16)


def fp8_e4m3fn_values():
    """The 256 FP8 E4M3FN codes as float32 (NaN for 0x7f and 0xff), from the format definition."""
    b = np.arange(256)
    e, mant = (b >> 3) & 0xF, b & 7
    mag = np.where(e == 0, mant * 2.0 ** -9, (1 + mant / 8.0) * 2.0 ** (e.astype(np.float64) - 7))
    v = np.where(b & 0x80, -mag, mag)
    v[(e == 15) & (mant == 7)] = np.nan
    return v.astype(np.float32)


def to_fp8_blocks(a, block):
    """[rows, cols] float32 -> (uint8 E4M3 codes, float32 scale_inv [ceil(r/B), ceil(c/B)])."""
    rows, cols = a.shape
    sr, sc = -(-rows // block), -(-cols // block)
    scale = np.zeros((sr, sc), dtype=np.float32)
    for i in range(sr):
        for j in range(sc):
            amax = np.abs(a[i * block:(i + 1) * block, j * block:(j + 1) * block]).max()
            scale[i, j] = amax / 448.0 if amax > 0 else 1.0
    full = np.repeat(np.repeat(scale, block, 0), block, 1)[:rows, :cols]
    values = fp8_e4m3fn_values()
    finite = np.where(~np.isnan(values))[0]
    order = finite[np.argsort(values[finite])]
    sorted_vals = values[order]
    q = a / full
    idx = np.clip(np.searchsorted(sorted_vals, q), 1, len(sorted_vals) - 1)
    nearer_left = np.abs(q - sorted_vals[idx - 1]) <= np.abs(q - sorted_vals[idx])
    codes = order[np.where(nearer_left, idx - 1, idx)].astype(np.uint8)
    return codes, scale


def keeps_precision(name):
    return name in ("model.embed_tokens.weight", "lm_head.weight") or name.endswith("mlp.gate.weight") or \
        name.endswith("shared_expert_gate.weight")


def encode(name, a, dtype, fp8_block):
    """[(name, safetensors dtype, shape, bytes)] for one HF tensor."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim < 2 or dtype == "f32":
        return [(name, "F32", a.shape, a.tobytes())]
    if dtype == "f16":
        return [(name, "F16", a.shape, a.astype("<f2").tobytes())]
    if dtype == "fp8" and not keeps_precision(name):
        codes, scale = to_fp8_blocks(a, fp8_block)
        return [(name, "F8_E4M3", a.shape, codes.tobytes()), (name + "_scale_inv", "F32", scale.shape, scale.tobytes())]
    return [(name, "BF16", a.shape, to_bf16_bits(a).tobytes())]


def write_safetensors(path, entries):
    header, offset = {}, 0
    for name, dt, shape, raw in entries:
        header[name] = {"dtype": dt, "shape": [int(s) for s in shape], "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header with spaces to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in entries:
            f.write(raw)


def write_weights(out_dir, entries, shard_bytes):
    if not shard_bytes:
        write_safetensors(os.path.join(out_dir, "model.safetensors"), entries)
        return
    shards, current, size = [], [], 0
    for e in entries:
        if current and size + len(e[3]) > shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(e)
        size += len(e[3])
    shards.append(current)
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(out_dir, fname), shard)
        weight_map.update({e[0]: fname for e in shard})
    index = {"metadata": {"total_size": sum(len(e[3]) for e in entries)}, "weight_map": weight_map}
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


# ----------------------------------------------------------------------------- tokenizer

def write_tokenizer(md, out_dir):
    tokens, types = md["tokenizer.ggml.tokens"], md["tokenizer.ggml.token_type"]
    pre = md["tokenizer.ggml.pre"]
    n = len(tokens)
    while n > 0 and types[n - 1] == 5:  # trailing unused padding: not part of the HF vocabulary
        n -= 1
    vocab, added = {}, []
    for i in range(n):
        if types[i] in (3, 4):
            added.append({"id": i, "content": tokens[i], "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": types[i] == 4, "special": types[i] == 3})
        else:
            vocab[tokens[i]] = i
    splits = [{"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False}
              for p in PRE_PATTERNS[pre]]
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "normalizer": {"type": "NFC"} if pre == "qwen2" else None,
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": splits + [
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
           "post_processor": None, "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                     "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": list(md["tokenizer.ggml.merges"])}}
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    config = {"add_bos_token": bool(md.get("tokenizer.ggml.add_bos_token", False)),
              "add_eos_token": bool(md.get("tokenizer.ggml.add_eos_token", False))}
    for key, gguf_key in (("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("pad_token", "padding_token_id")):
        if f"tokenizer.ggml.{gguf_key}" in md:
            config[key] = tokens[md[f"tokenizer.ggml.{gguf_key}"]]
    if "tokenizer.chat_template" in md:
        config["chat_template"] = md["tokenizer.chat_template"]
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out_dir")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16", "fp8"])
    ap.add_argument("--shard-bytes", type=int, default=0)
    ap.add_argument("--fp8-block", type=int, default=128)
    args = ap.parse_args(argv)
    md, tensors = gguf.read(args.model)
    m = Meta(md)
    os.makedirs(args.out_dir, exist_ok=True)
    config = hf_config(m, tied="output.weight" not in tensors)
    if args.dtype == "fp8":
        config["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                         "weight_block_size": [args.fp8_block, args.fp8_block]}
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    entries = []
    for name, a in hf_tensors(m, tensors):
        entries.extend(encode(name, a, args.dtype, args.fp8_block))
    write_weights(args.out_dir, entries, args.shard_bytes)
    write_tokenizer(md, args.out_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
