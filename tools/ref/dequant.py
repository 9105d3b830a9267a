#!/usr/bin/python3
"""Numpy dequantisation of GGUF tensor data: the independent oracle for moxie's C++ dequantizers.

Written from the block layouts in ggml-common.h and the dequantize_row_* definitions in
ggml-quants.c (summarised in shared/reference/moe-math-and-gguf.md section 4). Every type is
vectorised over blocks: the raw bytes are viewed as a [n_blocks, block_bytes] uint8 matrix and
each field is a column slice, so multi-million-weight tensors take milliseconds, not minutes.

Arithmetic matches ggml's: fp32 products of the same fp16/fp32 scales and small integers. For the
formats here every such product is exact in fp32 (at most 11+7+5 = 23 significant bits), so the
only rounding is the final "- dmin*m" or "+ m", and results are bit-identical to a scalar C loop,
with or without FMA contraction.

CLI (used by tests/unit/quant/numpy_oracle_test.cc):
    dequant.py TYPE N_ELEMENTS IN_FILE OUT_FILE
TYPE is a ggml type id (12) or name (q4_K). OUT_FILE receives N_ELEMENTS little-endian float32.
"""
import sys

import numpy as np

# ggml type id -> (name, elements per block, bytes per block)
TYPES = {
    0: ("f32", 1, 4),
    1: ("f16", 1, 2),
    2: ("q4_0", 32, 18),
    3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22),
    7: ("q5_1", 32, 24),
    8: ("q8_0", 32, 34),
    12: ("q4_K", 256, 144),
    13: ("q5_K", 256, 176),
    14: ("q6_K", 256, 210),
    15: ("q8_K", 256, 292),
    30: ("bf16", 1, 2),
    39: ("mxfp4", 32, 17),
}

# E2M1 code -> value x2 (ggml's kvalues_mxfp4; the scale is halved to compensate).
_KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)


def type_id_from_name(name):
    """Accepts a numeric id ("12") or a ggml name in any case ("Q4_K", "q4_k")."""
    if name.isdigit():
        return int(name)
    for type_id, (type_name, _, _) in TYPES.items():
        if type_name.lower() == name.lower():
            return type_id
    raise ValueError(f"unknown ggml type name {name!r}")


def _f16(cols):
    """[n_blocks, 2] uint8 columns holding binary16 LE -> [n_blocks] float32 (exact)."""
    return np.ascontiguousarray(cols).view("<f2")[:, 0].astype(np.float32)


def _f32(cols):
    return np.ascontiguousarray(cols).view("<f4")[:, 0]


def _nibbles_split(qs):
    """[n, 16] bytes -> [n, 32] codes: low nibbles are elements 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def _high_bits32(qh_cols):
    """[n, 4] bytes read as LE uint32 -> [n, 32] bits, bit j belonging to element j."""
    qh = np.ascontiguousarray(qh_cols).view("<u4")[:, 0]
    return ((qh[:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.uint8)


def _q4_0(b):
    d = _f16(b[:, 0:2])
    q = _nibbles_split(b[:, 2:18]).astype(np.int8) - np.int8(8)
    return q.astype(np.float32) * d[:, None]


def _q4_1(b):
    d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
    q = _nibbles_split(b[:, 4:20]).astype(np.float32)
    return q * d[:, None] + m[:, None]


def _q5_0(b):
    d = _f16(b[:, 0:2])
    q = _nibbles_split(b[:, 6:22]) | (_high_bits32(b[:, 2:6]) << 4)
    return (q.astype(np.int8) - np.int8(16)).astype(np.float32) * d[:, None]


def _q5_1(b):
    d, m = _f16(b[:, 0:2]), _f16(b[:, 2:4])
    q = _nibbles_split(b[:, 8:24]) | (_high_bits32(b[:, 4:8]) << 4)
    return q.astype(np.float32) * d[:, None] + m[:, None]


def _q8_0(b):
    d = _f16(b[:, 0:2])
    return b[:, 2:34].view(np.int8).astype(np.float32) * d[:, None]


def _mxfp4(b):
    e = b[:, 0].astype(np.uint32)
    # 2^(e-128) built from its bits: a subnormal for e < 2, otherwise exponent field e-1.
    bits = np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << 23).astype(np.uint32)
    d = bits.view(np.float32)
    return _KVALUES_MXFP4[_nibbles_split(b[:, 1:17])] * d[:, None]


def _kquant_scales_mins(sc):
    """Unpack Q4_K/Q5_K 12-byte scales: [n, 12] -> (scale [n, 8], min [n, 8]) 6-bit uint8.

    Sub-blocks 0..3 keep 6 bits in bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 keep
    their low 4 bits in bytes 8..11 and their top 2 bits in the top bits of bytes 0..7.
    """
    lo_sc, lo_m = sc[:, 0:4] & 63, sc[:, 4:8] & 63
    hi_sc = (sc[:, 8:12] & 0x0F) | ((sc[:, 0:4] >> 6) << 4)
    hi_m = (sc[:, 8:12] >> 4) | ((sc[:, 4:8] >> 6) << 4)
    return np.concatenate([lo_sc, hi_sc], axis=1), np.concatenate([lo_m, hi_m], axis=1)


def _kquant_codes4(qs):
    """[n, 128] bytes -> [n, 8, 32] 4-bit codes: chunk c's low nibbles are sub-block 2c, high 2c+1."""
    chunks = qs.reshape(-1, 4, 1, 32)
    return np.concatenate([chunks & 0x0F, chunks >> 4], axis=2).reshape(-1, 8, 32)


def _apply_kquant_scales(b, codes, sc_cols):
    d, dmin = _f16(b[:, 0:2]), _f16(b[:, 2:4])
    scale, mn = _kquant_scales_mins(b[:, sc_cols])
    d_sub = d[:, None] * scale.astype(np.float32)  # [n, 8], exact
    m_sub = dmin[:, None] * mn.astype(np.float32)  # [n, 8], exact
    y = d_sub[:, :, None] * codes.astype(np.float32) - m_sub[:, :, None]
    return y.reshape(-1, 256)


def _q4_k(b):
    return _apply_kquant_scales(b, _kquant_codes4(b[:, 16:144]), slice(4, 16))


def _q5_k(b):
    qh = b[:, 16:48]  # [n, 32]: bit s of qh[l] is the 5th bit of element l of sub-block s
    high = (qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    codes = _kquant_codes4(b[:, 48:176]) + (high << 4)
    return _apply_kquant_scales(b, codes, slice(4, 16))


def _q6_k(b):
    ql = b[:, 0:128].reshape(-1, 2, 2, 32)  # [n, half, ql[l] or ql[l+32], l]
    qh = b[:, 128:192].reshape(-1, 2, 1, 32)  # [n, half, 1, l]
    scales = b[:, 192:208].view(np.int8).astype(np.float32)  # [n, 16], one per 16 elements
    d = _f16(b[:, 208:210])
    # Within a half, quarter k (elements 32k..32k+31) takes these low nibbles and qh bits 2k..2k+1.
    low = np.stack([ql[:, :, 0] & 0x0F, ql[:, :, 1] & 0x0F, ql[:, :, 0] >> 4, ql[:, :, 1] >> 4], axis=2)
    high = (qh >> (2 * np.arange(4, dtype=np.uint8))[None, None, :, None]) & 3
    q = ((low | (high << 4)).astype(np.int8) - np.int8(32)).reshape(-1, 256).astype(np.float32)
    d_group = d[:, None] * scales  # [n, 16], exact
    return (d_group[:, :, None] * q.reshape(-1, 16, 16)).reshape(-1, 256)


def _q8_k(b):
    d = _f32(b[:, 0:4])
    return b[:, 4:260].view(np.int8).astype(np.float32) * d[:, None]


def _f16_plain(raw, n):
    return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)


def _bf16_plain(raw, n):
    return (np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32) << 16).view(np.float32)


def _f32_plain(raw, n):
    return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)


_PLAIN = {0: _f32_plain, 1: _f16_plain, 30: _bf16_plain}
_BLOCKED = {
    2: _q4_0, 3: _q4_1, 6: _q5_0, 7: _q5_1, 8: _q8_0, 39: _mxfp4,
    12: _q4_k, 13: _q5_k, 14: _q6_k, 15: _q8_k,
}


def nbytes(type_id, n_elements):
    """Bytes that n_elements of this type occupy (n must be a multiple of the block size)."""
    if type_id not in TYPES:
        raise ValueError(f"ggml type id {type_id} is not supported by dequant.py")
    name, block, block_bytes = TYPES[type_id]
    if n_elements % block:
        raise ValueError(f"{name}: {n_elements} elements is not a multiple of the block size {block}")
    return n_elements // block * block_bytes


def dequantize(type_id, raw, n_elements):
    """GGUF tensor bytes -> float32 array of n_elements (flat; reshape with the reversed ne)."""
    need = nbytes(type_id, n_elements)
    if len(raw) < need:
        name = TYPES[type_id][0]
        raise ValueError(f"{name}: {n_elements} elements need {need} bytes, got {len(raw)}")
    if type_id in _PLAIN:
        return _PLAIN[type_id](raw, n_elements)
    block_bytes = TYPES[type_id][2]
    blocks = np.frombuffer(raw, dtype=np.uint8, count=need).reshape(-1, block_bytes)
    return np.ascontiguousarray(_BLOCKED[type_id](blocks), dtype=np.float32).reshape(-1)


def main(argv):
    if len(argv) != 5:
        sys.stderr.write("usage: dequant.py TYPE N_ELEMENTS IN_FILE OUT_FILE\n")
        return 2
    type_id, n = type_id_from_name(argv[1]), int(argv[2])
    with open(argv[3], "rb") as f:
        raw = f.read()
    y = dequantize(type_id, raw, n)
    with open(argv[4], "wb") as f:
        f.write(y.astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
