#!/usr/bin/python3
"""Numpy RoPE/YaRN (cos, sin) tables: the independent oracle for moxie's RopeCache.

Written from the formulas of HF's DeepseekV3YarnRotaryEmbedding (DeepSeek's modeling_deepseek.py:
yarn_find_correction_dim, yarn_find_correction_range, yarn_linear_ramp_mask, yarn_get_mscale)
and of HF's generic YaRN (_compute_yarn_parameters in modeling_rope_utils.py), in the form HF
writes them: an inverse-frequency *mask* blending freq_inter and freq_extra, with the magnitude
attached to cos/sin. moxie's C++ follows ggml's rope_yarn form instead (a theta ramp with
ext_factor and a built-in 1 + 0.1 ln(factor) magnitude), so the two are written differently
and meet only in the numbers. Everything here is float64.

CLI:
    rope_ref.py OUT_FILE        writes the golden file tests/golden/rope_yarn.txt
"""
import math
import sys

import numpy as np


def yarn_find_correction_dim(num_rotations, dim, base, max_position_embeddings):
    """The dimension index whose wavelength fits num_rotations times in the original context."""
    return (dim * math.log(max_position_embeddings / (num_rotations * 2 * math.pi))) / (2 * math.log(base))


def yarn_find_correction_range(low_rot, high_rot, dim, base, max_position_embeddings):
    low = math.floor(yarn_find_correction_dim(low_rot, dim, base, max_position_embeddings))
    high = math.ceil(yarn_find_correction_dim(high_rot, dim, base, max_position_embeddings))
    return max(low, 0), min(high, dim - 1)


def yarn_linear_ramp_mask(lo, hi, n):
    if lo == hi:
        hi += 0.001
    return np.clip((np.arange(n, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)


def yarn_get_mscale(scale, mscale=1.0):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_inv_freq(dim, base, factor, orig_ctx, beta_fast, beta_slow):
    """HF: inv_freq = freq_inter * (1 - mask) + freq_extra * mask, mask = 1 - linear ramp."""
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim
    freq_extra = 1.0 / (base ** exponents)
    freq_inter = 1.0 / (factor * base ** exponents)
    low, high = yarn_find_correction_range(beta_fast, beta_slow, dim, base, orig_ctx)
    inv_freq_mask = 1.0 - yarn_linear_ramp_mask(low, high, dim // 2)
    return freq_inter * (1.0 - inv_freq_mask) + freq_extra * inv_freq_mask, (low, high)


# Each case: (name, kind, dim, base, factor, original ctx, beta_fast, beta_slow, mscale, mscale_all_dim).
# kind "deepseek": magnitude yarn_get_mscale(f, mscale) / yarn_get_mscale(f, mscale_all_dim).
# kind "generic":  magnitude yarn_get_mscale(f) (HF's default attention_factor, e.g. Qwen3).
CASES = [
    ("deepseek_v3", "deepseek", 64, 10000.0, 40.0, 4096, 32.0, 1.0, 1.0, 1.0),
    ("deepseek_mscale_0707", "deepseek", 64, 10000.0, 40.0, 4096, 32.0, 1.0, 1.0, 0.707),
    ("qwen3_yarn_4x", "generic", 128, 1000000.0, 4.0, 32768, 32.0, 1.0, 0.0, 0.0),
    ("high_clamped_to_dim_minus_1", "generic", 16, 10.0, 8.0, 850, 32.0, 1.0, 0.0, 0.0),
    ("low_clamped_to_0", "deepseek", 32, 10000.0, 2.5, 64, 32.0, 1.0, 1.0, 1.0),
]
POSITIONS = [0, 1, 2, 7, 100, 4095, 4096, 32767, 65536, 163839]


def magnitude(kind, factor, mscale, mscale_all_dim):
    if kind == "deepseek":
        return yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim)
    return yarn_get_mscale(factor)


def write_golden(path):
    lines = [
        "# RoPE YaRN golden (cos, sin) tables for tests/unit/kernels/rope_cache_test.cc.",
        "# Made by tools/ref/rope_ref.py (numpy, float64, from HF DeepseekV3YarnRotaryEmbedding and",
        "# HF generic YaRN formulas). Regenerate with:",
        "#     /usr/bin/python3 tools/ref/rope_ref.py tests/golden/rope_yarn.txt",
        "# case NAME dim base factor orig_ctx beta_fast beta_slow mscale mscale_all_dim kind magnitude low high",
        "# pos P  then dim/2 pairs: cos sin (each already multiplied by magnitude)",
    ]
    for name, kind, dim, base, factor, orig, bf, bs, ms, ms_all in CASES:
        inv_freq, (low, high) = yarn_inv_freq(dim, base, factor, orig, bf, bs)
        mag = magnitude(kind, factor, ms, ms_all)
        lines.append(f"case {name} {dim} {base!r} {factor!r} {orig} {bf!r} {bs!r} {ms!r} {ms_all!r} "
                     f"{kind} {mag!r} {low} {high}")
        for pos in POSITIONS:
            angles = float(pos) * inv_freq
            pairs = np.stack([np.cos(angles) * mag, np.sin(angles) * mag], axis=1).reshape(-1)
            lines.append(f"pos {pos} " + " ".join(f"{v:.12e}" for v in pairs))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_golden(sys.argv[1])
