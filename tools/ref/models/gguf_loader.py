"""From a GGUF file to (metadata, weights) for the reference forwards.

The file is parsed by tools/ref/gguf.py (the independent pure-Python reader); everything past
read_tensors() works on (metadata {key: value}, {name: (type_id, ne tuple, raw bytes)}).
Weights are dequantized with tools/ref/dequant.py on first use and reshaped to the reversed ne,
i.e. PyTorch layout: ne {in, out} -> [out, in]; stacked experts {n_embd, n_ff, n_expert} ->
[n_expert, n_ff, n_embd].
"""
import os
import sys
from collections.abc import Mapping

import numpy as np

_REF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REF_DIR not in sys.path:
    sys.path.insert(0, _REF_DIR)

import dequant  # noqa: E402


def read_tensors(path):
    """(metadata, {name: (type_id, ne, raw)}) via tools/ref/gguf.py's read()."""
    import gguf  # tools/ref/gguf.py; imported late so the rest works without it
    metadata, tensors = gguf.read(path)
    return metadata, {name: (t.type, tuple(t.ne), t.data) for name, t in tensors.items()}


class LazyWeights(Mapping):
    """name -> float32 numpy array, dequantized on first access and then cached."""

    def __init__(self, tensors):
        self._tensors = tensors
        self._cache = {}

    def __getitem__(self, name):
        if name not in self._cache:
            type_id, ne, raw = self._tensors[name]
            n = int(np.prod(ne)) if len(ne) else 1
            self._cache[name] = dequant.dequantize(type_id, raw, n).reshape(tuple(reversed(tuple(ne))))
        return self._cache[name]

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self):
        return len(self._tensors)

    def ne(self, name):
        return tuple(self._tensors[name][1])


class Meta:
    """Typed access to GGUF metadata; keys without a dot-prefix get "{arch}." prepended."""

    _MISSING = object()

    def __init__(self, metadata):
        self.md = metadata
        self.arch = metadata.get("general.architecture")
        if not isinstance(self.arch, str):
            raise KeyError("GGUF metadata has no general.architecture string")

    def _key(self, key):
        return key if key.startswith(("general.", "tokenizer.")) else f"{self.arch}.{key}"

    def get(self, key, default=_MISSING):
        full = self._key(key)
        if full in self.md:
            return self.md[full]
        if default is Meta._MISSING:
            raise KeyError(f"GGUF metadata key {full!r} is required and missing")
        return default

    def rope_scaling(self):
        """HF-style rope_scaling dict from {arch}.rope.scaling.*, or None."""
        kind = self.get("rope.scaling.type", "none")
        if kind in ("none", "", None):
            return None
        scaling = {"type": kind, "factor": float(self.get("rope.scaling.factor"))}
        if kind == "yarn":
            scaling["original_max_position_embeddings"] = float(self.get("rope.scaling.original_context_length"))
            scaling["beta_fast"] = float(self.get("rope.scaling.yarn_beta_fast", 32.0))
            scaling["beta_slow"] = float(self.get("rope.scaling.yarn_beta_slow", 1.0))
        return scaling


def base_config(meta, weights):
    """Keys every architecture shares, HF-named."""
    n_embd, n_head = int(meta.get("embedding_length")), int(meta.get("attention.head_count"))
    return {
        "vocab_size": weights.ne("token_embd.weight")[1],
        "hidden_size": n_embd,
        "num_hidden_layers": int(meta.get("block_count")),
        "num_attention_heads": n_head,
        "num_key_value_heads": int(meta.get("attention.head_count_kv", n_head)),
        "head_dim": int(meta.get("attention.key_length", n_embd // n_head)),
        "rms_norm_eps": float(meta.get("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(meta.get("rope.freq_base", 10000.0)),
        "rope_scaling": meta.rope_scaling(),
    }
