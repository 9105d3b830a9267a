"""Reference logits for a GGUF file from the command line.

    cd tools/ref && /usr/bin/python3 -m models MODEL.gguf --tokens 1,2,3 --out logits.npy

Writes float32 logits [n_tokens, n_vocab] as .npy (or raw little-endian float32 when the name
ends in .f32) and prints the greedy next token for each position.
"""
import argparse
import sys

import numpy as np

from . import load_from_gguf


def main(argv):
    parser = argparse.ArgumentParser(prog="models", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="GGUF file")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--out", help="where to write the logits (.npy or .f32)")
    args = parser.parse_args(argv)
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    logits = load_from_gguf(args.model).forward(tokens)
    if args.out:
        if args.out.endswith(".f32"):
            logits.astype("<f4").tofile(args.out)
        else:
            np.save(args.out, logits)
    print("argmax:", ",".join(str(int(i)) for i in logits.argmax(axis=-1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
