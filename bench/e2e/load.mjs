#!/usr/bin/env node
// Load test for `moxie serve` (not a ctest: it prints figures). N clients each run
// streaming chat requests back to back for T seconds against a server on loopback, then
// report errors, complete streams, TTFT and inter-token p50/p99, and the aggregate
// generation rate next to the memory-bandwidth bound of a decode step.
//
// usage: node bench/e2e/load.mjs --url http://127.0.0.1:8080 [--concurrency 32] [--duration 60]
//          [--max-tokens 64] [--model NAME] [--gguf FILE --moxie BIN --bandwidth-gbs GB/s [--gops GOP/s]]
//
// The bound (printed when --gguf and --bandwidth-gbs are given) is what one decode step of
// B sequences must read: every non-expert tensor once (attention, norms, router, shared
// experts, the output matrix), plus per MoE layer the expected number of distinct routed
// experts the B tokens pick, n·(1-(1-k/n)^B) (k of n experts, uniform routing), times one
// expert's bytes; the KV cache and the B embedding rows are left out (small at these
// lengths). tokens/s <= B · bandwidth / bytes_per_step. Measure the bandwidth with
// `build/bench/matmul_bench --benchmark_filter=bandwidth` (the GB counter).
//
// A step is also work: every matrix multiplies each of the B tokens (routed experts: the
// k each token picks), 2 operations per multiply-add. With --gops (a matmul rate measured
// at this batch size, e.g. matmul_bench's GFLOP/s for q4_K at 8 or 64 tokens, 2 threads)
// the compute bound is printed too; the step cannot beat the larger of the two times.
// On a model with few layers and a large vocabulary the output matrix dominates both.
// Exit status 1 when any request failed or any stream was incomplete.

import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";

function options() {
  const o = { url: "http://127.0.0.1:8080", concurrency: 32, duration: 60, "max-tokens": 64, model: "",
    gguf: "", moxie: "build/moxie", "bandwidth-gbs": 0, gops: 0, prompt: "Write a long story about a lighthouse keeper." };
  for (let i = 2; i < process.argv.length; i += 2) {
    const name = process.argv[i].replace(/^--/, "");
    if (!(name in o) || process.argv[i + 1] === undefined) throw new Error(`unknown or incomplete option ${process.argv[i]}`);
    o[name] = typeof o[name] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
  }
  return o;
}

/** One streaming request; resolves its timings, or { error }. Timestamps in ms. */
async function streamOnce(o, seed) {
  const body = { messages: [{ role: "user", content: `${o.prompt} (${seed})` }], max_tokens: o["max-tokens"], seed,
    stream: true, stream_options: { include_usage: true } };
  if (o.model) body.model = o.model;
  const sent = performance.now();
  const response = await fetch(`${o.url}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  if (response.status !== 200) return { error: `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}` };
  const arrivals = [];
  let usage = null;
  let finish = null;
  let done = false;
  let pending = "";
  const decoder = new TextDecoder();
  for await (const bytes of response.body) {
    const now = performance.now();
    pending += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (!event.startsWith("data: ")) continue; // keep-alive comments
      if (event === "data: [DONE]") { done = true; continue; }
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) return { error: `error event: ${chunk.error.message}` };
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (choice?.delta?.content) arrivals.push(now);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
  }
  if (!done || !usage || !finish) return { error: `incomplete stream (done ${done}, usage ${!!usage}, finish ${finish})` };
  return { sent, arrivals, tokens: usage.completion_tokens, ended: performance.now() };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Bytes one decode step of `batch` sequences reads, from `moxie inspect`'s tensor table. */
function bytesPerStep(o, batch) {
  const text = execFileSync(o.moxie, ["inspect", o.gguf], { encoding: "utf8", maxBuffer: 64 << 20 });
  const archValue = (key) => Number(new RegExp(`^\\s+${key}\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  const nExpert = archValue("expert_count");
  const nUsed = archValue("expert_used_count");
  let shared = 0;
  let embedding = 0;
  let embeddingMacs = 0;
  let hasOutput = false;
  let macsPerToken = 0; // multiply-adds one token costs in the matrices (a norm vector costs none here)
  const expertBytesByLayer = new Map();
  for (const [, name, shape, bytes] of text.matchAll(/^\s+(\S+\.weight)\s+\S+\s+\[([^\]]*)\]\s+(\d+)\s+\d+$/gm)) {
    const n = Number(bytes);
    const dims = shape.split(",").map(Number);
    const matrixMacs = dims.length >= 2 ? dims[0] * dims[1] : 0;
    const layer = /^blk\.(\d+)\./.exec(name)?.[1];
    if (name.includes("_exps.")) {
      expertBytesByLayer.set(layer, (expertBytesByLayer.get(layer) ?? 0) + n / nExpert);
      macsPerToken += nUsed * matrixMacs;
    } else if (name === "token_embd.weight") {
      embedding = n;
      embeddingMacs = matrixMacs;
    } else {
      if (name === "output.weight") hasOutput = true;
      shared += n;
      macsPerToken += matrixMacs;
    }
  }
  if (!hasOutput) { // tied embeddings: the output matrix is the embedding
    shared += embedding;
    macsPerToken += embeddingMacs;
  }
  const distinct = nExpert > 0 ? nExpert * (1 - Math.pow(1 - nUsed / nExpert, batch)) : 0;
  let experts = 0;
  for (const perExpert of expertBytesByLayer.values()) experts += distinct * perExpert;
  return { bytes: shared + experts, shared, distinct, nExpert, nUsed, macs: batch * macsPerToken };
}

async function main() {
  const o = options();
  const stopAt = performance.now() + o.duration * 1000;
  const results = [];
  const errors = [];
  const started = performance.now();
  const load0 = loadavg()[0];
  await Promise.all(Array.from({ length: o.concurrency }, async (_, client) => {
    for (let n = 0; performance.now() < stopAt; n++) {
      const r = await streamOnce(o, client * 100000 + n).catch((e) => ({ error: String(e) }));
      (r.error ? errors : results).push(r.error ?? r);
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  const ttft = results.filter((r) => r.arrivals.length).map((r) => r.arrivals[0] - r.sent).sort((a, b) => a - b);
  const gaps = results.flatMap((r) => r.arrivals.slice(1).map((t, i) => t - r.arrivals[i])).sort((a, b) => a - b);
  const tokens = results.reduce((sum, r) => sum + r.tokens, 0);
  const rate = tokens / elapsedS;
  console.log(`concurrency ${o.concurrency}, ${o.duration} s, max_tokens ${o["max-tokens"]}, load average ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`);
  console.log(`requests ${results.length + errors.length}: complete ${results.length}, errors ${errors.length}`);
  for (const e of errors.slice(0, 5)) console.log(`  error: ${e}`);
  console.log(`TTFT ms        p50 ${percentile(ttft, 50).toFixed(1)}  p99 ${percentile(ttft, 99).toFixed(1)}`);
  console.log(`inter-token ms p50 ${percentile(gaps, 50).toFixed(1)}  p99 ${percentile(gaps, 99).toFixed(1)}`);
  console.log(`generation     ${tokens} tokens in ${elapsedS.toFixed(1)} s = ${rate.toFixed(1)} tokens/s`);
  if (o.gguf && o["bandwidth-gbs"] > 0) {
    const b = bytesPerStep(o, o.concurrency);
    const boundRate = (o.concurrency * o["bandwidth-gbs"] * 1e9) / b.bytes;
    console.log(`bound          ${(b.bytes / 1e6).toFixed(1)} MB per step (${(b.shared / 1e6).toFixed(1)} MB non-expert + ` +
      `${b.distinct.toFixed(1)} of ${b.nExpert} experts per layer) at ${o["bandwidth-gbs"]} GB/s: ` +
      `${boundRate.toFixed(1)} tokens/s; measured ${(100 * rate / boundRate).toFixed(1)}% of it`);
    const gop = (2 * b.macs) / 1e9;
    let line = `compute        ${gop.toFixed(1)} GOP per step`;
    if (o.gops > 0) {
      const computeRate = (o.concurrency * o.gops) / gop;
      line += ` at ${o.gops} GOP/s: ${computeRate.toFixed(1)} tokens/s; measured ${(100 * rate / computeRate).toFixed(1)}% of it`;
    }
    console.log(line);
  }
  process.exitCode = errors.length > 0 ? 1 : 0;
}

await main();
