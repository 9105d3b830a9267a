#!/usr/bin/python3
"""Weight bytes one decode step reads from a GGUF MoE model: the decode roofline's numerator.

  /usr/bin/python3 bench/e2e/active_bytes.py model.gguf [--bandwidth-gbs 40]

Counts every tensor once, except: token_embd (one row per token) and stacked expert tensors
(*_exps, 3-D [n_expert, rows, k]) at expert_used_count / expert_count of their bytes. With
--bandwidth-gbs B it prints the tokens/s that reading those bytes at B GB/s allows.
Reads only the GGUF header and tensor table (format: github.com/ggml-org/ggml docs/gguf.md).
"""
import argparse
import struct

# Value types of GGUF metadata: fixed sizes, 8 = string, 9 = array.
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
# ggml type id -> (block elements, block bytes) for the types moxie synth writes.
BLOCKS = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
          12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292), 10: (256, 84), 11: (256, 110)}


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.d[self.o:self.o + n].decode("utf-8", "replace")
        self.o += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            if et in FIXED:
                self.o += FIXED[et] * n
                return None
            return [self.value(et) for _ in range(n)]
        fmt = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}[t]
        return self.take(fmt)


def read_table(path):
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # header and tensor table sit at the start
    r = Reader(data)
    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    r.o = 8
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("I"))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        ttype = r.take("I")
        r.take("Q")  # offset
        tensors.append((name, dims, ttype))
    return kv, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--bandwidth-gbs", type=float, default=0.0)
    a = ap.parse_args()
    kv, tensors = read_table(a.model)
    arch = kv["general.architecture"]
    used, total = kv[f"{arch}.expert_used_count"], kv[f"{arch}.expert_count"]
    all_bytes = active = 0.0
    for name, dims, ttype in tensors:
        if ttype not in BLOCKS:
            raise SystemExit(f"{name}: ggml type {ttype} not in this script's table")
        elems = 1
        for d in dims:
            elems *= d
        be, bb = BLOCKS[ttype]
        nbytes = elems // be * bb
        all_bytes += nbytes
        if name.startswith("token_embd"):
            active += nbytes / dims[1]
        elif "_exps" in name:
            active += nbytes * used / total
        else:
            active += nbytes
    print(f"{a.model}: {arch}, {used} of {total} experts per token")
    print(f"file weights {all_bytes / 1e6:.1f} MB, read per decoded token {active / 1e6:.1f} MB")
    if a.bandwidth_gbs > 0:
        print(f"roofline at {a.bandwidth_gbs} GB/s: {a.bandwidth_gbs * 1e9 / active:.1f} tokens/s")


if __name__ == "__main__":
    main()
