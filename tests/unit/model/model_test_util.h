#pragma once
// Helpers for the model tests: synthetic models in a temporary folder, the numpy reference
// (tools/ref, run with /usr/bin/python3 through ref_forward.py), moxie forwards and diffs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/model/synth.h"

namespace moxie::test {

// A folder removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "moxie-model-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string synth_model(const TempDir& dir, Arch arch, const std::string& preset, DType type, uint64_t seed) {
  SynthOptions o;
  o.arch = arch;
  o.preset = preset;
  o.type = type;
  o.seed = seed;
  const std::string path = dir.file(std::string(arch_name(arch)) + "-" + preset + "-" + std::string(dtype_name(type)) + "-" +
                                    std::to_string(seed) + ".gguf");
  write_synth_model(o, path);
  return path;
}

// n deterministic token ids in [0, n_vocab).
inline std::vector<int32_t> prompt_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
  std::vector<int32_t> ids;
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    ids.push_back(int32_t((s >> 33) % uint64_t(n_vocab)));
  }
  return ids;
}

inline std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<float> v(size_t(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return v;
}

inline std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// Runs ref_forward.py; logits [n_tokens][n_vocab] per prompt. With trace, prompt i's named
// intermediates are left in out_prefix.<i>.trace.<name>-<layer>.f32 (see ref_trace_file).
inline std::vector<std::vector<float>> reference_logits(const std::string& model_path,
                                                        const std::vector<std::vector<int32_t>>& prompts,
                                                        const std::string& out_prefix, bool trace = false) {
  std::string lists;
  for (const auto& p : prompts) lists += (lists.empty() ? "" : ";") + join_ids(p);
  const std::string src = MOXIE_SOURCE_DIR;
  std::string cmd = "/usr/bin/python3 " + src + "/tests/unit/model/ref_forward.py " + src + "/tools/ref '" +
                    model_path + "' '" + out_prefix + "' '" + lists + "'";
  if (trace) cmd += " --trace";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("reference failed: " + cmd);
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < prompts.size(); ++i) out.push_back(read_f32(out_prefix + "." + std::to_string(i) + ".f32"));
  return out;
}

inline std::string ref_trace_file(const std::string& out_prefix, size_t prompt, const std::string& key) {
  return out_prefix + "." + std::to_string(prompt) + ".trace." + key + ".f32";
}

// "name-layer" -> rows, as moxie's trace hook delivers them.
using Trace = std::map<std::string, std::vector<float>>;

// moxie's logits for every position of one sequence run as a single batch; fills *trace
// when given.
inline std::vector<float> moxie_logits(const Model& m, const std::vector<int32_t>& ids, ForwardContext& ctx,
                                       Trace* trace = nullptr) {
  if (trace) {
    ctx.trace = [trace](std::string_view name, int64_t layer, const float* data, int64_t n_rows, int64_t row_len) {
      (*trace)[std::string(name) + "-" + std::to_string(layer)].assign(data, data + n_rows * row_len);
    };
  }
  KvCache kv = m.make_kv_cache(1, int64_t(ids.size()));
  Batch b;
  b.add_sequence(ids, 0, 0, true);
  std::vector<float> logits(size_t(b.n_logits() * m.config().n_vocab));
  m.forward(b, kv, ctx, logits.data());
  ctx.trace = nullptr;
  return logits;
}

struct Diff {
  double max_abs = 0, mean_abs = 0, max_ref = 0;
  double rel() const { return max_ref > 0 ? max_abs / max_ref : max_abs; }
};

// Over elements [begin, end) of both (all when end is 0).
inline Diff diff(const std::vector<float>& got, const std::vector<float>& want, size_t begin = 0, size_t end = 0) {
  Diff d;
  if (got.size() != want.size()) {
    d.max_abs = INFINITY;
    return d;
  }
  if (end == 0) end = got.size();
  for (size_t i = begin; i < end; ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i]));
    d.max_abs = std::isnan(e) ? INFINITY : std::max(d.max_abs, e);
    d.mean_abs += e;
    d.max_ref = std::max(d.max_ref, std::fabs(double(want[i])));
  }
  d.mean_abs /= double(std::max<size_t>(end - begin, 1));
  return d;
}

// Per position: whether any MoE layer routed the token to a different set of experts in
// moxie than in the reference (prompt i's trace).
inline std::vector<bool> routing_differs(const Trace& mine, const std::string& out_prefix, size_t prompt,
                                         int64_t n_layer, int64_t n_tok) {
  std::vector<bool> differs(size_t(n_tok), false);
  for (int64_t il = 0; il < n_layer; ++il) {
    const std::string key = "ffn_moe_experts-" + std::to_string(il);
    const auto it = mine.find(key);
    if (it == mine.end()) continue;  // a dense layer
    std::vector<float> want = read_f32(ref_trace_file(out_prefix, prompt, key)), got = it->second;
    const size_t k = got.size() / size_t(n_tok);
    for (int64_t t = 0; t < n_tok; ++t) {
      std::sort(got.begin() + t * k, got.begin() + (t + 1) * k);
      std::sort(want.begin() + t * k, want.begin() + (t + 1) * k);
      if (!std::equal(got.begin() + t * k, got.begin() + (t + 1) * k, want.begin() + t * k)) differs[size_t(t)] = true;
    }
  }
  return differs;
}

// The first traced intermediate (layer order; attn_out, ffn_out, l_out within a layer) whose
// relative difference to the reference exceeds rel_tol, as a message.
inline std::string first_divergence(const Model& m, const std::string& model_path, const std::vector<int32_t>& ids,
                                    const std::string& out_prefix, double rel_tol) {
  reference_logits(model_path, {ids}, out_prefix, true);
  Trace mine;
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  moxie_logits(m, ids, ctx, &mine);
  for (int64_t il = 0; il < m.config().n_layer; ++il) {
    for (const char* name : {"attn_out", "ffn_out", "l_out"}) {
      const std::string key = std::string(name) + "-" + std::to_string(il);
      const Diff d = diff(mine[key], read_f32(ref_trace_file(out_prefix, 0, key)));
      if (d.rel() > rel_tol) {
        return "first divergence at " + key + ": max |diff| " + std::to_string(d.max_abs) + ", max |ref| " +
               std::to_string(d.max_ref);
      }
    }
  }
  return "no traced layer diverges beyond " + std::to_string(rel_tol) + " (the output head does)";
}

}  // namespace moxie::test
