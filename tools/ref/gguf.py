#!/usr/bin/python3
"""A small, independent GGUF reader and writer (pure Python + numpy), written from the
GGUF specification (ggml docs/gguf.md), not from gguf-py. It is the oracle the C++
reader and writer are tested against, and the loader of the numpy reference forwards.

    metadata, tensors = read(path)
        metadata: dict key -> int | float | bool | str | list (nested lists for nested arrays)
        tensors:  dict name -> Tensor with .type (GGUF/ggml type id, int), .ne (tuple, GGUF
                  order: ne[0] innermost), .data (memoryview of the raw bytes), .offset
                  (from the start of the data section)

    write(path, metadata, tensors, alignment=None)
        metadata: list of (key, vtype, value), or dict key -> (vtype, value). vtype is a
                  value type id (U8 .. F64 below) or, for an array, the tuple (ARRAY, elem)
                  where elem is again a vtype: (ARRAY, STRING), (ARRAY, (ARRAY, U32)), ...
        tensors:  dict name -> (type, ne, data) or -> an object with .type/.ne/.data
                  (so a read() result can be written back); list of (name, type, ne, data)
                  also works. data: bytes-like or a numpy array (its raw bytes are used).
        The alignment is general.alignment when present in metadata, else 32.

Command line (used by the C++ tests):
    gguf.py dump FILE.gguf        typed JSON of the whole file on stdout
    gguf.py write-sample OUT.gguf OUT.json   a file with every value type + its typed JSON

Layout written: header, metadata, tensor infos, zero padding to the alignment, then each
tensor's bytes followed by zero padding to the alignment (offsets = running padded sizes).
"""
import json
import mmap
import struct
import sys

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Metadata value types (gguf_metadata_value_type).
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
TYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"]
_SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
                   BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}

# ggml type id -> (elements per block, bytes per block), from the block layouts in the spec.
GGML_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8),
    28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
}


class GGUFError(ValueError):
    pass


class Tensor:
    def __init__(self, type, ne, data, offset=0):
        self.type = type
        self.ne = tuple(ne)
        self.data = data
        self.offset = offset

    def __repr__(self):
        return f"Tensor(type={self.type}, ne={self.ne}, nbytes={len(self.data)})"


def tensor_nbytes(ggml_type, ne):
    if ggml_type not in GGML_BLOCKS:
        raise GGUFError(f"unknown ggml type {ggml_type}")
    block, size = GGML_BLOCKS[ggml_type]
    if ne[0] % block:
        raise GGUFError(f"ne[0]={ne[0]} is not a multiple of the block size {block}")
    n = 1
    for d in ne:
        n *= d
    return n // block * size


def _pad(n, a):
    return (n + a - 1) // a * a


# ----------------------------------------------------------------------------- reading

class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError(f"{what} at byte {self.pos}: needs {n} bytes, file has {len(self.buf) - self.pos} left")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what):
        n = self.unpack("<Q", what)
        raw = bytes(self.take(n, what))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw  # kept as bytes: GGUF says UTF-8, but do not lose odd tokens


def _read_value(cur, vtype, what):
    """Returns (value, typed) where typed is vtype, or (ARRAY, elem typed) for arrays."""
    if vtype == STRING:
        return cur.string(what), STRING
    if vtype == ARRAY:
        elem = cur.unpack("<I", what)
        count = cur.unpack("<Q", what)
        if elem in _SCALAR_FORMATS:
            fmt = _SCALAR_FORMATS[elem]
            raw = cur.take(count * struct.calcsize(fmt), what)
            arr = np.frombuffer(raw, dtype=np.dtype(fmt))
            items = [bool(x) for x in arr] if elem == BOOL else arr.tolist()
            return items, (ARRAY, elem)
        if elem == STRING:
            return [cur.string(what) for _ in range(count)], (ARRAY, STRING)
        if elem == ARRAY:
            items, typed = [], (ARRAY, (ARRAY, U8))
            for _ in range(count):
                v, t = _read_value(cur, ARRAY, what)
                items.append(v)
                typed = (ARRAY, t)
            return items, typed
        raise GGUFError(f"{what}: unknown array element type {elem}")
    if vtype in _SCALAR_FORMATS:
        v = cur.unpack(_SCALAR_FORMATS[vtype], what)
        return (v != 0 if vtype == BOOL else v), vtype
    raise GGUFError(f"{what}: unknown value type {vtype}")


def read_typed(path):
    """Returns (info, entries, tensors): info = {version, alignment, data_offset},
    entries = [(key, typed vtype, value)] in file order, tensors as in read()."""
    with open(path, "rb") as f:
        buf = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    cur = _Cursor(buf)
    if bytes(cur.take(4, "magic")) != GGUF_MAGIC:
        raise GGUFError(f"{path}: not a GGUF file")
    version = cur.unpack("<I", "version")
    if version not in (2, 3):
        raise GGUFError(f"{path}: unsupported GGUF version {version}")
    n_tensors = cur.unpack("<Q", "tensor_count")
    n_kv = cur.unpack("<Q", "metadata_kv_count")
    entries = []
    for i in range(n_kv):
        key = cur.string(f"metadata[{i}].key")
        vtype = cur.unpack("<I", f"metadata {key!r} type")
        value, typed = _read_value(cur, vtype, f"metadata {key!r} value")
        entries.append((key, typed, value))
    meta = {k: v for k, _, v in entries}
    alignment = int(meta.get("general.alignment", DEFAULT_ALIGNMENT))
    infos = []
    for i in range(n_tensors):
        name = cur.string(f"tensor_info[{i}].name")
        n_dims = cur.unpack("<I", f"tensor_info[{i}].n_dims")
        ne = tuple(cur.unpack("<Q", f"tensor_info[{i}].ne") for _ in range(n_dims))
        ggml_type = cur.unpack("<I", f"tensor_info[{i}].type")
        offset = cur.unpack("<Q", f"tensor_info[{i}].offset")
        infos.append((name, ggml_type, ne, offset))
    data_offset = _pad(cur.pos, alignment)
    tensors = {}
    for name, ggml_type, ne, offset in infos:
        start = data_offset + offset
        n = tensor_nbytes(ggml_type, ne)
        if start + n > len(buf):
            raise GGUFError(f"{path}: tensor {name!r} data runs past the end of the file")
        tensors[name] = Tensor(ggml_type, ne, buf[start:start + n], offset)
    info = {"version": version, "alignment": alignment, "data_offset": data_offset}
    return info, entries, tensors


def read(path):
    _, entries, tensors = read_typed(path)
    return {k: v for k, _, v in entries}, tensors


# ----------------------------------------------------------------------------- writing

def _pack_value(vtype, value):
    if isinstance(vtype, tuple):
        _, elem = vtype
        elem_id = ARRAY if isinstance(elem, tuple) else elem
        out = struct.pack("<IQ", elem_id, len(value))
        return out + b"".join(_pack_value(elem, v) for v in value)
    if vtype == STRING:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return struct.pack("<Q", len(raw)) + raw
    if vtype == BOOL:
        return struct.pack("<B", 1 if value else 0)
    if vtype in _SCALAR_FORMATS:
        return struct.pack(_SCALAR_FORMATS[vtype], value)
    raise GGUFError(f"unknown value type {vtype!r}")


def _entries(metadata):
    if isinstance(metadata, dict):
        return [(k, t, v) for k, (t, v) in metadata.items()]
    return list(metadata)


def _tensor_list(tensors):
    items = tensors.items() if isinstance(tensors, dict) else [(t[0], t[1:]) for t in tensors]
    out = []
    for name, t in items:
        ggml_type, ne, data = (t.type, t.ne, t.data) if hasattr(t, "ne") else t
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        if len(raw) != tensor_nbytes(ggml_type, tuple(ne)):
            raise GGUFError(f"tensor {name!r}: {len(raw)} bytes given, shape needs {tensor_nbytes(ggml_type, ne)}")
        out.append((name, ggml_type, tuple(ne), raw))
    return out


def write(path, metadata, tensors, alignment=None):
    entries = _entries(metadata)
    for key, _, value in entries:
        if key == "general.alignment":
            alignment = int(value)
    alignment = alignment or DEFAULT_ALIGNMENT
    tlist = _tensor_list(tensors)
    out = bytearray(GGUF_MAGIC + struct.pack("<IQQ", 3, len(tlist), len(entries)))
    for key, vtype, value in entries:
        out += _pack_value(STRING, key)
        out += struct.pack("<I", ARRAY if isinstance(vtype, tuple) else vtype)
        out += _pack_value(vtype, value)
    offset = 0
    for name, ggml_type, ne, raw in tlist:
        out += _pack_value(STRING, name) + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += _pad(len(raw), alignment)
    out += bytes(_pad(len(out), alignment) - len(out))
    for _, _, _, raw in tlist:
        out += raw + bytes(_pad(len(raw), alignment) - len(raw))
    with open(path, "wb") as f:
        f.write(out)


# ----------------------------------------------------------------------------- JSON dump

def _json_scalar(v):
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    return v


def _json_value(vtype, value):
    if isinstance(vtype, tuple):
        elem = vtype[1]
        return {"element_type": "array" if isinstance(elem, tuple) else TYPE_NAMES[elem],
                "value": [_json_value(elem, v) if isinstance(elem, tuple) else _json_scalar(v) for v in value]}
    return _json_scalar(value)


def to_json(info, entries, tensors):
    meta = []
    for key, vtype, value in entries:
        item = {"key": key, "type": "array" if isinstance(vtype, tuple) else TYPE_NAMES[vtype]}
        v = _json_value(vtype, value)
        if isinstance(vtype, tuple):
            item.update(v)
        else:
            item["value"] = v
        meta.append(item)
    tens = [{"name": n, "type": t.type, "ne": list(t.ne), "offset": t.offset, "nbytes": len(t.data),
             "data_hex": bytes(t.data).hex()} for n, t in tensors.items()]
    return dict(info, metadata=meta, tensors=tens)


def sample():
    """Every value type, edge values, nested arrays, and tensors of several types."""
    rng = np.random.default_rng(1234)
    metadata = [
        ("general.architecture", STRING, "sample"),
        ("general.alignment", U32, 64),
        ("t.u8", U8, 255), ("t.i8", I8, -128), ("t.u16", U16, 65535), ("t.i16", I16, -32768),
        ("t.u32", U32, 4294967295), ("t.i32", I32, -2147483648), ("t.f32", F32, 1.5),
        ("t.f32_inf", F32, float("-inf")), ("t.bool_true", BOOL, True), ("t.bool_false", BOOL, False),
        ("t.string", STRING, "héllo wörld ✓"), ("t.empty_string", STRING, ""),
        ("t.u64", U64, 18446744073709551615), ("t.i64", I64, -9223372036854775808),
        ("t.f64", F64, 3.141592653589793),
        ("t.arr_u8", (ARRAY, U8), [0, 1, 255]), ("t.arr_i8", (ARRAY, I8), [-1, 127]),
        ("t.arr_u16", (ARRAY, U16), [7, 65535]), ("t.arr_i16", (ARRAY, I16), [-300]),
        ("t.arr_u32", (ARRAY, U32), [1, 2, 3]), ("t.arr_i32", (ARRAY, I32), [-5, 0, 5]),
        ("t.arr_f32", (ARRAY, F32), [0.25, -2.0]), ("t.arr_bool", (ARRAY, BOOL), [True, False, True]),
        ("t.arr_string", (ARRAY, STRING), ["a", "", "Ġthe", "<0x0A>"]),
        ("t.arr_u64", (ARRAY, U64), [2 ** 64 - 1]), ("t.arr_i64", (ARRAY, I64), [-(2 ** 63), 2 ** 63 - 1]),
        ("t.arr_f64", (ARRAY, F64), [1e300, -0.5]), ("t.arr_empty", (ARRAY, U32), []),
        ("t.arr_nested", (ARRAY, (ARRAY, I32)), [[1, 2], [], [3]]),
        ("t.arr_nested_str", (ARRAY, (ARRAY, STRING)), [["x", "y"], ["z"]]),
    ]
    f32 = rng.standard_normal((3, 8)).astype(np.float32)
    f16 = rng.standard_normal((2, 5)).astype(np.float16)
    q8 = rng.integers(0, 256, size=2 * 34, dtype=np.uint8)  # 2 blocks of Q8_0 (opaque bytes)
    tensors = {"a.weight": (0, (8, 3), f32), "b.weight": (1, (5, 2), f16), "c.weight": (8, (64, 1), q8)}
    return metadata, tensors


def _main(argv):
    if len(argv) == 3 and argv[1] == "dump":
        info, entries, tensors = read_typed(argv[2])
        json.dump(to_json(info, entries, tensors), sys.stdout, indent=1)
        return 0
    if len(argv) == 4 and argv[1] == "write-sample":
        metadata, tensors = sample()
        write(argv[2], metadata, tensors)
        # The JSON describes what was meant to be written, not what reads back.
        info = {"version": 3, "alignment": 64}
        tens = {}
        offset = 0
        for name, (t, ne, data) in tensors.items():
            tens[name] = Tensor(t, ne, data.tobytes(), offset)
            offset += _pad(len(data.tobytes()), 64)
        with open(argv[3], "w") as f:
            json.dump(to_json(info, metadata, tens), f, indent=1)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
