#!/usr/bin/python3
"""moxie vs llama.cpp, prompt processing and token generation on the same GGUF file.

For each thread count, runs `moxie bench` and `llama-bench` on the same file with the same
prompt/generation lengths, alternating which engine goes first in each round (the host is
shared, so load drifts: ratios from interleaved runs mean more than absolute figures). Prints
one line per (threads, test) with both engines' tokens/s (mean over rounds), the ratio
moxie / llama.cpp, and the load average seen around the runs.

  /usr/bin/python3 bench/e2e/side_by_side.py --moxie build/moxie \
      --llama-bench /tmp/llama-build/bin/llama-bench -m model.gguf -t 2,1 -p 512 -n 128 -r 3 --rounds 2

Only uses each engine's own JSON output; llama.cpp is not part of moxie and is never built here.
"""
import argparse
import json
import os
import subprocess
import sys


def run_json(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}\n")
        raise SystemExit(1)
    out = proc.stdout
    start = out.find("[")  # llama-bench may print log lines before the JSON array
    return json.loads(out[start:])


def moxie_cmd(a, threads, test):
    p, n = (test[1], 0) if test[0] == "pp" else (0, test[1])
    return [a.moxie, "bench", "-m", a.model, "-p", str(p), "-n", str(n), "-t", str(threads), "-r", str(a.reps),
            "-o", "json"] + a.moxie_arg


def llama_cmd(a, threads, test):
    p, n = (test[1], 0) if test[0] == "pp" else (0, test[1])
    return [a.llama_bench, "-m", a.model, "-p", str(p), "-n", str(n), "-t", str(threads), "-r", str(a.reps),
            "-o", "json"] + a.llama_arg


def tokens_per_s(rows):
    if len(rows) != 1:
        raise SystemExit(f"expected one result row, got {len(rows)}")
    return float(rows[0]["avg_ts"])


def load1():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moxie", required=True, help="the moxie binary")
    ap.add_argument("--llama-bench", required=True, help="llama.cpp's llama-bench binary")
    ap.add_argument("-m", "--model", required=True, help="GGUF file both engines load")
    ap.add_argument("-t", "--threads", default="2,1", help="comma-separated thread counts")
    ap.add_argument("-p", "--n-prompt", type=int, default=512, help="prompt length (0: skip pp)")
    ap.add_argument("-n", "--n-gen", type=int, default=128, help="generated tokens (0: skip tg)")
    ap.add_argument("-r", "--reps", type=int, default=3, help="repetitions inside each engine call")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per test")
    ap.add_argument("--moxie-arg", action="append", default=[], help="extra argument for moxie bench")
    ap.add_argument("--llama-arg", action="append", default=[], help="extra argument for llama-bench")
    a = ap.parse_args()

    tests = [t for t in (("pp", a.n_prompt), ("tg", a.n_gen)) if t[1] > 0]
    print(f"model: {a.model}")
    print("| threads | test | moxie t/s | llama.cpp t/s | moxie / llama.cpp | load (1 min) |")
    print("|---:|---|---:|---:|---:|---|")
    for threads in [int(t) for t in a.threads.split(",")]:
        for test in tests:
            moxie, llama, loads = [], [], []
            for rnd in range(a.rounds):
                order = ("moxie", "llama") if rnd % 2 == 0 else ("llama", "moxie")
                for engine in order:
                    loads.append(load1())
                    if engine == "moxie":
                        moxie.append(tokens_per_s(run_json(moxie_cmd(a, threads, test))))
                    else:
                        llama.append(tokens_per_s(run_json(llama_cmd(a, threads, test))))
            m, l = sum(moxie) / len(moxie), sum(llama) / len(llama)
            per_round = " ".join(f"{x / y:.2f}" for x, y in zip(moxie, llama))
            print(f"| {threads} | {test[0]}{test[1]} | {m:.2f} | {l:.2f} | **{m / l:.2f}** (rounds: {per_round}) "
                  f"| {min(loads):.1f}-{max(loads):.1f} |", flush=True)


if __name__ == "__main__":
    main()
