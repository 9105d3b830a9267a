"""numpy dequantization of the FP8 tensors of a safetensors file, the oracle for the C++
FP8 test. Written from the formats, independently of moxie:

    /usr/bin/python3 fp8_reference.py MODEL.safetensors BLOCK OUT_DIR

For each F8_E4M3 tensor W [rows, cols] with W_scale_inv [ceil(rows/B), ceil(cols/B)]
(F32), writes OUT_DIR/<name>.f32: float32 W[r, c] = e4m3fn(W[r, c]) * scale_inv[r//B, c//B],
where e4m3fn(b) = (-1)^s * (e == 0 ? m/8 * 2^-6 : (1 + m/8) * 2^(e-7)), s = b >> 7,
e = (b >> 3) & 15, m = b & 7 (0x7f / 0xff would be NaN).
"""
import json
import os
import struct
import sys

import numpy as np


def main(path, block, out_dir):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n

    def array(name, dtype):
        info = header[name]
        begin, end = info["data_offsets"]
        return np.frombuffer(raw[base + begin:base + end], dtype=dtype).reshape(info["shape"])

    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F8_E4M3":
            continue
        b = array(name, np.uint8).astype(np.int64)
        s, e, m = b >> 7, (b >> 3) & 15, b & 7
        mag = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * np.exp2(e - 7.0))
        value = np.where(s == 1, -mag, mag).astype(np.float32)
        scale = array(name + "_scale_inv", "<f4")
        rows, cols = value.shape
        full = np.repeat(np.repeat(scale, block, axis=0), block, axis=1)[:rows, :cols]
        (value * full).astype("<f4").tofile(os.path.join(out_dir, name + ".f32"))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
