"""Random tiny models, as (metadata, {name: (type_id, ne, raw)}), for self-tests of the reference.

The sizes are deliberately awkward (head_dim != n_embd / n_head, a dense layer before the MoE
ones, groups of experts) so that a wrong reshape or a swapped axis changes the logits. These are
not the goldens' models: those come from `moxie synth` and are read back through the GGUF reader.
"""
import numpy as np

from . import gguf_loader  # noqa: F401  (puts tools/ref on sys.path for gguf.py)

F32, F16 = 0, 1

VARIANTS = ("qwen2", "qwen3", "qwen2moe", "qwen3moe", "llama", "mixtral", "deepseek2", "deepseek2-lite")


def tensor_entry(array, type_id=F32):
    """numpy array in PyTorch layout -> (type_id, ne = reversed shape, raw little-endian bytes)."""
    dtype = "<f4" if type_id == F32 else "<f2"
    return type_id, tuple(reversed(array.shape)), np.ascontiguousarray(array, dtype=dtype).tobytes()


class _Builder:
    def __init__(self, rng, type_id):
        self.rng, self.type_id, self.arrays = rng, type_id, {}

    def add(self, name, shape, scale=0.3, around=0.0):
        self.arrays[name] = (around + scale * self.rng.standard_normal(shape)).astype(np.float32)

    def norm(self, name, n):
        self.add(name, (n,), scale=0.1, around=1.0)

    def tensors(self):
        # Norm weights and biases stay f32 (as converters keep 1-D tensors); matrices use type_id.
        return {name: tensor_entry(a, self.type_id if a.ndim > 1 else F32) for name, a in self.arrays.items()}


def _gqa_layer(b, i, n_embd, n_head, n_kv, head_dim, qkv_bias, qk_norm):
    p = f"blk.{i}."
    b.norm(p + "attn_norm.weight", n_embd)
    b.add(p + "attn_q.weight", (n_head * head_dim, n_embd))
    b.add(p + "attn_k.weight", (n_kv * head_dim, n_embd))
    b.add(p + "attn_v.weight", (n_kv * head_dim, n_embd))
    b.add(p + "attn_output.weight", (n_embd, n_head * head_dim))
    if qkv_bias:
        for t, n in (("q", n_head), ("k", n_kv), ("v", n_kv)):
            b.add(p + f"attn_{t}.bias", (n * head_dim,), scale=0.2)
    if qk_norm:
        b.norm(p + "attn_q_norm.weight", head_dim)
        b.norm(p + "attn_k_norm.weight", head_dim)


def _dense_ffn(b, i, n_embd, n_ff):
    p = f"blk.{i}."
    b.add(p + "ffn_gate.weight", (n_ff, n_embd))
    b.add(p + "ffn_up.weight", (n_ff, n_embd))
    b.add(p + "ffn_down.weight", (n_embd, n_ff))


def _moe_ffn(b, i, n_embd, n_expert, n_ff_exp, n_ff_shexp=0, shexp_gate=False, bias=False):
    p = f"blk.{i}."
    b.add(p + "ffn_gate_inp.weight", (n_expert, n_embd), scale=0.5)
    b.add(p + "ffn_gate_exps.weight", (n_expert, n_ff_exp, n_embd))
    b.add(p + "ffn_up_exps.weight", (n_expert, n_ff_exp, n_embd))
    b.add(p + "ffn_down_exps.weight", (n_expert, n_embd, n_ff_exp))
    if n_ff_shexp:
        _dense_ffn_named(b, p, "shexp", n_embd, n_ff_shexp)
    if shexp_gate:
        b.add(p + "ffn_gate_inp_shexp.weight", (n_embd,), scale=0.3)
    if bias:
        b.add(p + "exp_probs_b.bias", (n_expert,), scale=0.1)


def _dense_ffn_named(b, p, suffix, n_embd, n_ff):
    b.add(p + f"ffn_gate_{suffix}.weight", (n_ff, n_embd))
    b.add(p + f"ffn_up_{suffix}.weight", (n_ff, n_embd))
    b.add(p + f"ffn_down_{suffix}.weight", (n_embd, n_ff))


def _globals(b, n_vocab, n_embd, tied):
    b.add("token_embd.weight", (n_vocab, n_embd), scale=1.0)
    b.norm("output_norm.weight", n_embd)
    if not tied:
        b.add("output.weight", (n_vocab, n_embd))


def _gqa_model(variant, rng, type_id):
    arch = {"mixtral": "llama"}.get(variant, variant)
    n_vocab, n_embd, n_layer, n_head, n_kv = 40, 32, 2, 4, 2
    head_dim = 16 if variant in ("qwen3", "qwen3moe") else 8
    b = _Builder(rng, type_id)
    _globals(b, n_vocab, n_embd, tied=variant == "qwen3")
    md = {"general.architecture": arch, f"{arch}.embedding_length": n_embd, f"{arch}.block_count": n_layer,
          f"{arch}.attention.head_count": n_head, f"{arch}.attention.head_count_kv": n_kv,
          f"{arch}.attention.key_length": head_dim, f"{arch}.attention.value_length": head_dim,
          f"{arch}.attention.layer_norm_rms_epsilon": 1e-6, f"{arch}.rope.freq_base": 10000.0,
          f"{arch}.rope.dimension_count": head_dim}
    moe_arch = variant in ("qwen2moe", "qwen3moe", "mixtral")
    if moe_arch:
        md.update({f"{arch}.expert_count": 6, f"{arch}.expert_used_count": 2})
    for i in range(n_layer):
        _gqa_layer(b, i, n_embd, n_head, n_kv, head_dim, qkv_bias=variant in ("qwen2", "qwen2moe"),
                   qk_norm=variant in ("qwen3", "qwen3moe"))
        b.norm(f"blk.{i}.ffn_norm.weight", n_embd)
        if moe_arch and not (variant == "qwen2moe" and i == 0):  # qwen2moe layer 0: mlp_only_layers
            shexp = variant == "qwen2moe"
            _moe_ffn(b, i, n_embd, 6, 12, n_ff_shexp=20 if shexp else 0, shexp_gate=shexp)
        else:
            _dense_ffn(b, i, n_embd, 24)
    return md, b.tensors()


def _deepseek2_model(variant, rng, type_id):
    lite = variant == "deepseek2-lite"
    n_vocab, n_embd, n_layer, n_head = 40, 32, 3, 4
    q_lora, kv_lora, nope, rope, v_dim = (0 if lite else 16), 12, 8, 4, 6
    n_expert, n_ff_exp = 8, 10
    b = _Builder(rng, type_id)
    _globals(b, n_vocab, n_embd, tied=False)
    a = "deepseek2"
    md = {"general.architecture": a, f"{a}.embedding_length": n_embd, f"{a}.block_count": n_layer,
          f"{a}.attention.head_count": n_head, f"{a}.attention.head_count_kv": 1,
          f"{a}.attention.key_length": kv_lora + rope, f"{a}.attention.value_length": kv_lora,
          f"{a}.attention.key_length_mla": nope + rope, f"{a}.attention.value_length_mla": v_dim,
          f"{a}.attention.kv_lora_rank": kv_lora, f"{a}.attention.layer_norm_rms_epsilon": 1e-6,
          f"{a}.rope.freq_base": 10000.0, f"{a}.rope.dimension_count": rope,
          f"{a}.leading_dense_block_count": 1, f"{a}.expert_count": n_expert, f"{a}.expert_used_count": 3,
          f"{a}.expert_shared_count": 1, f"{a}.expert_feed_forward_length": n_ff_exp}
    if not lite:  # V3-style: q LoRA, sigmoid + bias + groups, normalised, scaled, YaRN
        md.update({f"{a}.attention.q_lora_rank": q_lora, f"{a}.expert_gating_func": 2,
                   f"{a}.expert_weights_norm": True, f"{a}.expert_weights_scale": 2.5,
                   f"{a}.expert_group_count": 4, f"{a}.expert_group_used_count": 2,
                   f"{a}.rope.scaling.type": "yarn", f"{a}.rope.scaling.factor": 4.0,
                   f"{a}.rope.scaling.original_context_length": 16, f"{a}.rope.scaling.yarn_log_multiplier": 0.1})
    for i in range(n_layer):
        p = f"blk.{i}."
        b.norm(p + "attn_norm.weight", n_embd)
        if lite:
            b.add(p + "attn_q.weight", (n_head * (nope + rope), n_embd))
        else:
            b.add(p + "attn_q_a.weight", (q_lora, n_embd))
            b.norm(p + "attn_q_a_norm.weight", q_lora)
            b.add(p + "attn_q_b.weight", (n_head * (nope + rope), q_lora))
        b.add(p + "attn_kv_a_mqa.weight", (kv_lora + rope, n_embd))
        b.norm(p + "attn_kv_a_norm.weight", kv_lora)
        b.add(p + "attn_k_b.weight", (n_head, kv_lora, nope))
        b.add(p + "attn_v_b.weight", (n_head, v_dim, kv_lora))
        b.add(p + "attn_output.weight", (n_embd, n_head * v_dim))
        b.norm(p + "ffn_norm.weight", n_embd)
        if i < 1:
            _dense_ffn(b, i, n_embd, 24)
        else:
            _moe_ffn(b, i, n_embd, n_expert, n_ff_exp, n_ff_shexp=n_ff_exp, bias=not lite)
    return md, b.tensors()


def random_model(variant, seed=0, type_id=F32):
    """(metadata, tensors) of a random tiny model; variant is one of VARIANTS."""
    rng = np.random.default_rng(seed)
    if variant.startswith("deepseek2"):
        return _deepseek2_model(variant, rng, type_id)
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    return _gqa_model(variant, rng, type_id)


def write_gguf(path, metadata, tensors):
    """Write (metadata, tensors) with tools/ref/gguf.py: ints as u32, floats as f32, bools, strings."""
    import gguf  # tools/ref/gguf.py (gguf_loader put tools/ref on sys.path)

    def vtype(value):
        if isinstance(value, bool):
            return gguf.BOOL
        if isinstance(value, int):
            return gguf.U32
        if isinstance(value, float):
            return gguf.F32
        if isinstance(value, str):
            return gguf.STRING
        raise TypeError(f"no GGUF value type for {value!r}")

    gguf.write(path, {k: (vtype(v), v) for k, v in metadata.items()},
               {name: (t, ne, raw) for name, (t, ne, raw) in tensors.items()})
