#include "moxie/convert/converter.h"

#include <set>

#include "moxie/convert/hf_config.h"
#include "moxie/convert/safetensors.h"
#include "moxie/convert/tensor_plan.h"
#include "moxie/convert/tokenizer_keys.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/gguf/writer.h"
#include "moxie/model/config_writer.h"
#include "moxie/model/synth.h"
#include "moxie/quant/quant.h"
#include "moxie/quantize/recipe.h"

namespace moxie::convert {
namespace {

constexpr int64_t kChunkFloats = int64_t(1) << 20;  // rows converted per step: about 4 MiB of f32

// Rows [begin, end) of one tensor, read as f32 and encoded to `type`, into out.
void encode_rows(const PlannedTensor& p, DType type, int64_t begin, int64_t end, unsigned char* out, ThreadPool& pool) {
  const int64_t n = p.spec.ne[0], bytes = row_bytes(type, n);
  pool.run([&](int ith, int nth) {
    int64_t b = 0, e = 0;
    ThreadPool::split(end - begin, ith, nth, &b, &e);
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      p.read_row(begin + r, row.data());
      quant::quantize_row(type, row.data(), out + r * bytes, n);
    }
  });
}

std::vector<std::string> unused_notes(const HfModelInfo& info, const Checkpoint& ckpt,
                                      const std::vector<PlannedTensor>& plan) {
  std::set<std::string> used;
  for (const PlannedTensor& p : plan) used.insert(p.sources.begin(), p.sources.end());
  std::vector<std::string> notes;
  int64_t n_mtp = 0, n_other = 0;
  std::string examples;
  const std::string mtp_prefix = "model.layers." + std::to_string(info.config.n_layer) + ".";
  for (const auto& [name, t] : ckpt.tensors()) {
    if (used.count(name)) continue;
    const size_t suffix = name.rfind("_scale_inv");
    if (suffix != std::string::npos && used.count(name.substr(0, suffix))) continue;
    if (info.n_nextn_layers > 0 && name.rfind("model.layers.", 0) == 0 &&
        std::stoll(name.substr(13)) >= info.config.n_layer) {
      ++n_mtp;
      continue;
    }
    if (++n_other <= 3) examples += (examples.empty() ? "" : ", ") + name;
  }
  if (n_mtp) {
    notes.push_back("skipped " + std::to_string(info.n_nextn_layers) + " multi-token-prediction layer(s) (" +
                    std::to_string(n_mtp) + " tensors): moxie does not use them");
  }
  if (n_other) notes.push_back("ignored " + std::to_string(n_other) + " checkpoint tensor(s) with no GGUF use: " + examples);
  return notes;
}

void write_metadata(GgufWriter& w, const HfModelInfo& info, const ConvertOptions& o) {
  write_model_config(w, info.config);
  const std::string arch = arch_name(info.config.arch);
  if (info.config.arch == Arch::qwen2moe && info.config.moe.norm_topk) w.add_bool(arch + ".expert_weights_norm", true);
  w.add_u32("general.file_type", uint32_t(quantize::llama_file_type(o.type)));
  if (dtype_info(o.type).block_size > 1) w.add_u32("general.quantization_version", 2);
  write_tokenizer_keys(w, o.hf_dir, info.config.n_vocab);
}

}  // namespace

DType convert_tensor_type(DType type, int kind, const std::vector<int64_t>& ne) {
  const auto k = TensorKind(kind);
  if (k == TensorKind::norm || k == TensorKind::bias || k == TensorKind::router || ne.size() == 1) return DType::F32;
  return synth_matrix_type(type, ne[0]);
}

ConvertResult convert_hf_to_gguf(const ConvertOptions& o) {
  if (!quant::quant_fns(o.type).quantize) {
    throw Error("convert: cannot write weights of type " + std::string(dtype_name(o.type)));
  }
  const HfModelInfo info = read_hf_config(o.hf_dir);
  const Checkpoint ckpt(o.hf_dir);
  const std::vector<PlannedTensor> plan = plan_tensors(info, ckpt);
  ConvertResult result;
  result.notes = unused_notes(info, ckpt, plan);

  GgufWriter w(o.out_path);
  write_metadata(w, info, o);
  std::vector<DType> types;
  uint64_t total = 0;
  for (const PlannedTensor& p : plan) {
    types.push_back(convert_tensor_type(o.type, int(p.spec.kind), p.spec.ne));
    total += uint64_t(row_bytes(types.back(), p.spec.ne[0]) * p.n_rows);
    w.add_tensor(p.spec.name, types.back(), p.spec.ne);
  }
  w.write_header();
  ThreadPool pool(std::max(1, o.n_threads));
  std::vector<unsigned char> buffer;
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedTensor& p = plan[i];
    const int64_t n = p.spec.ne[0], bytes = row_bytes(types[i], n);
    const int64_t chunk = std::max<int64_t>(1, kChunkFloats / n);
    for (int64_t begin = 0; begin < p.n_rows; begin += chunk) {
      const int64_t end = std::min(p.n_rows, begin + chunk);
      buffer.resize(size_t((end - begin) * bytes));
      encode_rows(p, types[i], begin, end, buffer.data(), pool);
      w.write_tensor_data(buffer.data(), buffer.size());
      result.n_bytes += buffer.size();
      if (o.progress) o.progress(result.n_bytes, total, p.spec.name);
    }
  }
  w.finish();
  result.n_tensors = int64_t(plan.size());
  return result;
}

}  // namespace moxie::convert
