"""Independent numpy reference forwards for the architectures moxie runs.

    from models import load_from_gguf
    model = load_from_gguf("tiny.gguf")
    logits = model.forward([1, 2, 3])          # [n_tokens, n_vocab] float32, computed in float64
    experts, weights = model.route(layer, x)   # the router alone, on a normed hidden state

Each architecture module (qwen, llama, deepseek2) has config_from_gguf(metadata, weights),
router_spec(config) and forward(weights, config, tokens, trace=None). `weights` maps GGUF tensor
names to numpy arrays in PyTorch layout (reversed GGUF ne); `config` is a dict with HF-style
keys. Semantics follow the Hugging Face modeling code, not llama.cpp's graphs (see
docs/reference.md).
"""
from . import deepseek2, llama, qwen
from .gguf_loader import LazyWeights, read_tensors
from .moe import route_layer
from .router import RouterSpec, route  # noqa: F401  (re-exported for routing tests)

_MODULES = {arch: module for module in (qwen, llama, deepseek2) for arch in module.ARCHS}


def arch_module(arch):
    if arch not in _MODULES:
        raise ValueError(f"architecture {arch!r} is not covered by the reference (have {sorted(_MODULES)})")
    return _MODULES[arch]


class Model:
    def __init__(self, arch, config, weights):
        self.arch, self.config, self.weights = arch, config, weights
        self.module = arch_module(arch)

    def forward(self, tokens, trace=None, **options):
        return self.module.forward(self.weights, self.config, tokens, trace=trace, **options)

    def route(self, layer, x):
        """(experts [T, k], weights [T, k]) of `layer`'s router for its normed input x [T, n_embd]."""
        return route_layer(x, self.weights, layer, self.module.router_spec(self.config))


def load_from_tensors(metadata, tensors):
    """Model from (metadata, {name: (type_id, ne, raw bytes)}) as tools/ref/gguf.py returns them."""
    arch = metadata.get("general.architecture")
    module = arch_module(arch)
    weights = LazyWeights(tensors)
    if "rope_freqs.weight" in weights:
        raise NotImplementedError("rope_freqs.weight (per-dimension rope factors) is not in the reference")
    return Model(arch, module.config_from_gguf(metadata, weights), weights)


def load_from_gguf(path):
    return load_from_tensors(*read_tensors(path))
