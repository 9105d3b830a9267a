"""Hugging Face checkpoint files with numpy only: safetensors read/write and the
Qwen3MoeForCausalLM config.json / tensor names (tied embeddings: no lm_head.weight).

safetensors layout: u64 little-endian header length N, N bytes of JSON
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian tensor bytes (offsets relative to the end of the header).
"""
import json
import struct

import numpy as np


def write_safetensors(path, tensors):
    """tensors: dict name -> float32 numpy array."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keeps the data 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']} (only F32 is written here)")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=8 + n + begin).reshape(
            info["shape"])
    return out


def hf_config(c, eos_id, pad_id):
    """config.json of Qwen3MoeForCausalLM for model.Config c."""
    return {
        "architectures": ["Qwen3MoeForCausalLM"],
        "model_type": "qwen3_moe",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "num_experts": c.num_experts,
        "num_experts_per_tok": c.num_experts_per_tok,
        "moe_intermediate_size": c.moe_intermediate_size,
        "intermediate_size": c.moe_intermediate_size,
        "decoder_sparse_step": 1,
        "mlp_only_layers": [],
        "norm_topk_prob": True,
        "max_position_embeddings": c.max_position_embeddings,
        "rope_theta": c.rope_theta,
        "rope_scaling": None,
        "rms_norm_eps": c.rms_norm_eps,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "tie_word_embeddings": True,
        "router_aux_loss_coef": c.router_aux_loss_coef,
        "output_router_logits": False,
        "use_cache": True,
        "bos_token_id": None,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "torch_dtype": "float32",
    }


def hf_tensors(model):
    """The torch model's weights under HF Qwen3-MoE names (experts unstacked), as numpy."""
    out = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        a = layer.self_attn
        out[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        out[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[p + f"self_attn.{name}.weight"] = getattr(a, name).weight
        out[p + "self_attn.q_norm.weight"] = a.q_norm.weight
        out[p + "self_attn.k_norm.weight"] = a.k_norm.weight
        out[p + "mlp.gate.weight"] = layer.mlp.gate.weight
        for e in range(layer.mlp.c.num_experts):
            for name in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.experts.{e}.{name}.weight"] = getattr(layer.mlp, name)[e]
    return {k: v.detach().float().cpu().numpy() for k, v in out.items()}


def load_model(folder):
    """Rebuilds the torch model from an HF folder written by train.py."""
    import torch  # here: reading and writing safetensors needs only numpy

    from model import Config, Qwen3Moe
    with open(f"{folder}/config.json") as f:
        hc = json.load(f)
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "head_dim", "num_experts", "num_experts_per_tok", "moe_intermediate_size", "max_position_embeddings",
            "rope_theta", "rms_norm_eps", "router_aux_loss_coef")
    model = Qwen3Moe(Config(**{k: hc[k] for k in keys}))
    tensors = read_safetensors(f"{folder}/model.safetensors")
    with torch.no_grad():
        expected = hf_tensors(model)
        if set(expected) != set(tensors):
            raise ValueError(f"{folder}/model.safetensors: tensor names differ from the model's: "
                             f"{sorted(set(expected) ^ set(tensors))[:5]}")
        params = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
        for i, layer in enumerate(model.layers):
            p = f"model.layers.{i}."
            params[p + "input_layernorm.weight"] = layer.input_layernorm.weight
            params[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
            for name in ("q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"):
                params[p + f"self_attn.{name}.weight"] = getattr(layer.self_attn, name).weight
            params[p + "mlp.gate.weight"] = layer.mlp.gate.weight
            for e in range(model.c.num_experts):
                for name in ("gate_proj", "up_proj", "down_proj"):
                    params[p + f"mlp.experts.{e}.{name}.weight"] = getattr(layer.mlp, name)[e]
        for name, dst in params.items():
            dst.copy_(torch.from_numpy(tensors[name].copy()))
    model.eval()
    return model
