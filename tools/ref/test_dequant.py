"""dequant.py against hand-worked blocks and a per-element scalar twin of ggml's loops.

The scalar twin below walks one block at a time, element by element, exactly as the
dequantize_row_* loops in ggml-quants.c are written; the vectorised code in dequant.py reshapes
instead. Agreeing on random blocks checks the reshapes; the hand cases check the scalar twin.
Run: cd tools/ref && /usr/bin/python3 -m unittest test_dequant
"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dequant  # noqa: E402

F32 = np.float32


def half(x):
    return np.array([x], dtype="<f2").tobytes()


def h2f(raw, off):
    return F32(np.frombuffer(raw[off:off + 2], dtype="<f2")[0])


def scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def scalar_block(type_id, blk):
    """One block -> list of float32, element by element (the ggml loop structure)."""
    y = [None] * dequant.TYPES[type_id][1]
    if type_id in (2, 3, 6, 7):  # Q4_0, Q4_1, Q5_0, Q5_1
        d = h2f(blk, 0)
        m = h2f(blk, 2) if type_id in (3, 7) else None
        qh = struct.unpack("<I", blk[2 + 2 * (m is not None):6 + 2 * (m is not None)])[0] if type_id in (6, 7) else 0
        qs = blk[-16:]
        for j in range(16):
            x0, x1 = qs[j] & 0xF, qs[j] >> 4
            if type_id in (6, 7):
                x0 |= ((qh >> j) << 4) & 0x10
                x1 |= (qh >> (j + 12)) & 0x10
            if m is None:
                off = 8 if type_id == 2 else 16
                y[j], y[j + 16] = F32(x0 - off) * d, F32(x1 - off) * d
            else:
                y[j], y[j + 16] = F32(x0) * d + m, F32(x1) * d + m
    elif type_id == 8:
        d = h2f(blk, 0)
        for j in range(32):
            y[j] = F32(struct.unpack("b", blk[2 + j:3 + j])[0]) * d
    elif type_id == 39:
        e = blk[0]
        d = F32(2.0) ** (int(e) - 128)
        kv = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]
        for j in range(16):
            y[j], y[j + 16] = F32(kv[blk[1 + j] & 0xF]) * d, F32(kv[blk[1 + j] >> 4]) * d
    elif type_id in (12, 13):  # Q4_K, Q5_K
        d, dmin, sc = h2f(blk, 0), h2f(blk, 2), blk[4:16]
        qh, ql = (None, blk[16:144]) if type_id == 12 else (blk[16:48], blk[48:176])
        out = 0
        for c in range(4):
            s1, m1 = scale_min_k4(2 * c, sc)
            s2, m2 = scale_min_k4(2 * c + 1, sc)
            d1, mm1, d2, mm2 = d * F32(s1), dmin * F32(m1), d * F32(s2), dmin * F32(m2)
            for l in range(32):
                hb = 16 if qh is not None and qh[l] & (1 << (2 * c)) else 0
                y[out + l] = d1 * F32((ql[32 * c + l] & 0xF) + hb) - mm1
            for l in range(32):
                hb = 16 if qh is not None and qh[l] & (2 << (2 * c)) else 0
                y[out + 32 + l] = d2 * F32((ql[32 * c + l] >> 4) + hb) - mm2
            out += 64
    elif type_id == 14:  # Q6_K
        d = h2f(blk, 208)
        sc = np.frombuffer(blk[192:208], dtype=np.int8)
        for n in range(2):
            ql, qh, s, base = blk[64 * n:64 * n + 64], blk[128 + 32 * n:160 + 32 * n], sc[8 * n:8 * n + 8], 128 * n
            for l in range(32):
                i = l // 16
                q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32
                q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32
                q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                y[base + l] = d * F32(s[i + 0]) * F32(q1)
                y[base + l + 32] = d * F32(s[i + 2]) * F32(q2)
                y[base + l + 64] = d * F32(s[i + 4]) * F32(q3)
                y[base + l + 96] = d * F32(s[i + 6]) * F32(q4)
    elif type_id == 15:  # Q8_K
        d = F32(struct.unpack("<f", blk[0:4])[0])
        for j in range(256):
            y[j] = d * F32(struct.unpack("b", blk[4 + j:5 + j])[0])
    return np.array(y, dtype=F32)


def random_blocks(type_id, n_blocks, rng):
    """Random bytes with the scale fields set to finite values (as the C++ oracle test does)."""
    _, _, bb = dequant.TYPES[type_id]
    raw = bytearray(rng.integers(0, 256, size=n_blocks * bb, dtype=np.uint8).tobytes())
    half_offsets = {2: [0], 6: [0], 8: [0], 3: [0, 2], 7: [0, 2], 12: [0, 2], 13: [0, 2], 14: [208]}
    for b in range(n_blocks):
        for off in half_offsets.get(type_id, []):
            raw[b * bb + off:b * bb + off + 2] = half(rng.uniform(-4, 4))
        if type_id == 15:
            raw[b * bb:b * bb + 4] = struct.pack("<f", rng.uniform(-1, 1))
        if type_id == 39:
            raw[b * bb] %= 253  # keep 12 * 2^(e-128) finite
    return bytes(raw)


BLOCK_TYPES = [2, 3, 6, 7, 8, 12, 13, 14, 15, 39]


class HandWorkedBlocks(unittest.TestCase):
    def test_q4_0_low_nibbles_first_half(self):
        qs = bytes((j | ((15 - j) << 4)) for j in range(16))
        y = dequant.dequantize(2, half(0.5) + qs, 32)
        expect = [(j - 8) * 0.5 for j in range(16)] + [(7 - j) * 0.5 for j in range(16)]
        np.testing.assert_array_equal(y, np.array(expect, dtype=F32))

    def test_q4_1_adds_min(self):
        y = dequant.dequantize(3, half(2.0) + half(-1.0) + bytes([0x31] * 16), 32)
        np.testing.assert_array_equal(y, [1.0] * 16 + [5.0] * 16)

    def test_q5_0_high_bits_from_little_endian_qh(self):
        # qh bit 0 -> element 0, bit 16 -> element 16, bit 31 -> element 31.
        qh = struct.pack("<I", (1 << 0) | (1 << 16) | (1 << 31))
        y = dequant.dequantize(6, half(1.0) + qh + bytes(16), 32)
        expect = np.full(32, -16.0, dtype=F32)
        expect[[0, 16, 31]] = 0.0
        np.testing.assert_array_equal(y, expect)

    def test_q8_0_signed(self):
        qs = np.arange(-16, 16, dtype=np.int8).tobytes()
        y = dequant.dequantize(8, half(0.25) + qs, 32)
        np.testing.assert_array_equal(y, np.arange(-16, 16, dtype=F32) * 0.25)

    def test_mxfp4_scale_and_table(self):
        # e = 128 -> d = 2^0 = 1 (half of the E8M0 scale 2, the table is doubled).
        y = dequant.dequantize(39, bytes([128]) + bytes([0x9F] * 16), 32)
        np.testing.assert_array_equal(y, [-12.0] * 16 + [-1.0] * 16)
        y0 = dequant.dequantize(39, bytes([0]) + bytes([0x11] * 16), 32)  # subnormal scale 2^-128
        self.assertEqual(y0[0], F32(2.0) ** -128)

    def test_q4_k_sub_block_scales(self):
        # Sub-block 0 scale 1 min 0; sub-block 5 scale from the packed high bits: (8 & 0xF) | (1 << 4) = 24.
        sc = bytearray(12)
        sc[0] = 1
        sc[1] = 0x40  # top 2 bits of byte 1 -> high bits of sub-block 5's scale
        sc[9] = 0x08 | 0x30  # low 4 bits of sub-block 5's scale = 8, of its min = 3
        blk = half(1.0) + half(0.5) + bytes(sc) + bytes([0x21] * 128)
        y = dequant.dequantize(12, blk, 256)
        self.assertEqual(y[0], 1.0)  # d*1*1 - 0
        self.assertEqual(y[32 * 5], 24.0 * 2 - 0.5 * 3)  # sub-block 5 = chunk 2, high nibbles (2)

    def test_q6_k_scale_groups(self):
        blk = bytearray(210)
        blk[192:208] = np.arange(1, 17, dtype=np.int8).tobytes()
        blk[208:210] = half(1.0)
        y = dequant.dequantize(14, bytes(blk), 256)  # every code 0 -> q = -32
        np.testing.assert_array_equal(y, -32.0 * np.repeat(np.arange(1, 17), 16))

    def test_float_types(self):
        x = np.array([1.5, -2.25, 65504.0, 6e-8], dtype=F32)
        np.testing.assert_array_equal(dequant.dequantize(0, x.tobytes(), 4), x)
        np.testing.assert_array_equal(dequant.dequantize(1, x.astype("<f2").tobytes(), 4), x.astype("<f2"))
        bf = (x.view(np.uint32) >> 16).astype("<u2").tobytes()
        np.testing.assert_array_equal(dequant.dequantize(30, bf, 2), [1.5, -2.25])

    def test_rejects_bad_sizes(self):
        with self.assertRaises(ValueError):
            dequant.dequantize(12, bytes(144), 255)
        with self.assertRaises(ValueError):
            dequant.dequantize(12, bytes(100), 256)
        with self.assertRaises(ValueError):
            dequant.dequantize(11, bytes(110), 256)  # Q3_K not implemented


class VectorisedMatchesScalar(unittest.TestCase):
    def test_random_blocks_bit_exact(self):
        rng = np.random.default_rng(7)
        for type_id in BLOCK_TYPES:
            with self.subTest(type=dequant.TYPES[type_id][0]):
                _, qk, bb = dequant.TYPES[type_id]
                raw = random_blocks(type_id, 6, rng)
                y = dequant.dequantize(type_id, raw, 6 * qk)
                ref = np.concatenate([scalar_block(type_id, raw[b * bb:(b + 1) * bb]) for b in range(6)])
                np.testing.assert_array_equal(y.view(np.uint32), ref.view(np.uint32))

    def test_cli_round_trip(self):
        rng = np.random.default_rng(3)
        raw = random_blocks(13, 4, rng)
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.f32")
            with open(src, "wb") as f:
                f.write(raw)
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dequant.py")
            subprocess.run([sys.executable, script, "q5_K", "1024", src, dst], check=True)
            out = np.fromfile(dst, dtype="<f4")
        np.testing.assert_array_equal(out, dequant.dequantize(13, raw, 1024))


if __name__ == "__main__":
    unittest.main()
