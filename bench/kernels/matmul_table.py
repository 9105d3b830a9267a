#!/usr/bin/python3
"""Runs matmul_bench (or reads its JSON output) and prints one compact table:
type x shape x batch x threads -> weight GB/s, % of the bandwidth measured in the same run
(same thread count), GFLOP/s.

  /usr/bin/python3 bench/kernels/matmul_table.py build/bench/matmul_bench \
      --benchmark_filter='bandwidth|matmul/(q4_K|q8_0|bf16)/' --benchmark_min_time=0.2
  /usr/bin/python3 bench/kernels/matmul_table.py --json results.json

Include 'bandwidth' in the filter, or the % column stays empty. cpu% is the calling thread's CPU
time over wall time: well below 100 with 1 thread means another process took the core.
"""
import json
import subprocess
import sys


def load(argv):
    if len(argv) >= 2 and argv[0] == "--json":
        with open(argv[1]) as f:
            return json.load(f)
    if not argv:
        sys.exit(__doc__)
    out = subprocess.run(argv + ["--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    report = load(sys.argv[1:])
    bandwidth = {}  # threads -> GB/s
    rows = []
    for b in report["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        # e.g. "matmul/q4_K/expert_down_768x2048/tok:8/threads:2/real_time"
        parts = b["name"].split("/")
        args = dict(p.split(":", 1) for p in parts if ":" in p)
        threads = int(args["threads"])
        if parts[0] == "bandwidth":
            bandwidth[threads] = b["GB"]
        elif parts[0] == "matmul":
            tok = int(args["tok"])
            cpu = 100.0 * b["cpu_time"] / b["real_time"]
            rows.append((parts[1], parts[2], tok, threads, b["GB"], b["GFLOP"], b["real_time"], b["time_unit"], cpu))
    ctx = report.get("context", {})
    print(f"host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs @ {ctx.get('mhz_per_cpu', '?')} MHz")
    for t in sorted(bandwidth):
        print(f"measured read bandwidth, {t} thread(s): {bandwidth[t]:.1f} GB/s")
    header = f"{'type':<7} {'shape':<24} {'tok':>4} {'thr':>3} {'GB/s':>7} {'%bw':>5} {'GFLOP/s':>8} {'time':>10} {'cpu%':>5}"
    print(header)
    print("-" * len(header))
    for typ, shape, tok, thr, gbs, gflops, t, unit, cpu in rows:
        pct = f"{100.0 * gbs / bandwidth[thr]:.0f}" if thr in bandwidth else "-"
        print(f"{typ:<7} {shape:<24} {tok:>4} {thr:>3} {gbs:>7.1f} {pct:>5} {gflops:>8.1f} {t:>8.1f}{unit} {cpu:>5.0f}")


if __name__ == "__main__":
    main()
