"""Reference logits (and optionally a layer trace) for the C++ model tests.

    /usr/bin/python3 ref_forward.py REF_DIR MODEL.gguf OUT_PREFIX "1,2,3;4,5" [--trace]

Runs tools/ref's numpy forward (float64, its own GGUF reader and dequantizers) once per
';'-separated token list and writes OUT_PREFIX.<i>.f32: raw little-endian float32 logits
[n_tokens][n_vocab]. With --trace, also writes each list's named intermediates as
OUT_PREFIX.<i>.trace.<name>.f32 (attn_out-L, ffn_out-L, l_out-L, ffn_moe_experts-L, ...;
integer arrays such as the routed expert ids converted to float32).
"""
import sys

import numpy as np


def main(argv):
    ref_dir, model_path, out_prefix, lists = argv[:4]
    want_trace = len(argv) > 4 and argv[4] == "--trace"
    sys.path.insert(0, ref_dir)
    from models import load_from_gguf

    model = load_from_gguf(model_path)
    for i, text in enumerate(lists.split(";")):
        tokens = [int(t) for t in text.split(",")]
        trace = {} if want_trace else None
        logits = model.forward(tokens, trace=trace)
        logits.astype("<f4").tofile(f"{out_prefix}.{i}.f32")
        for name, value in (trace or {}).items():
            value = np.asarray(value)
            if value.dtype.kind in "fiu":
                value.astype("<f4").tofile(f"{out_prefix}.{i}.trace.{name}.f32")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
