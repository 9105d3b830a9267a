#include "moxie/model/synth.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/random.h"
#include "moxie/core/thread_pool.h"
#include "moxie/gguf/writer.h"
#include "moxie/model/config_writer.h"
#include "moxie/model/synth_vocab.h"
#include "moxie/model/tensor_specs.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

// Standard normal samples (Box-Muller), from a per-row seed so the file does not depend
// on the thread count.
void fill_normal(uint64_t seed, float* out, int64_t n) {
  uint64_t state = seed;
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = uniform01(state) + 0x1p-53;  // (0, 1]: log(u1) stays finite
    const double u2 = uniform01(state);
    const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * std::numbers::pi * u2;
    out[i] = float(r * std::cos(a));
    if (i + 1 < n) out[i + 1] = float(r * std::sin(a));
  }
}

// Values per kind: projections scaled by 1/sqrt(fan-in) keep activations near unit size.
void fill_row(const TensorSpec& spec, uint64_t seed, float* row) {
  const int64_t n = spec.ne[0];
  fill_normal(seed, row, n);
  float scale = 1.0f, offset = 0.0f;
  switch (spec.kind) {
    case TensorKind::embedding: scale = 1.0f; break;
    case TensorKind::matrix: scale = 1.0f / std::sqrt(float(n)); break;
    case TensorKind::router: scale = 2.0f / std::sqrt(float(n)); break;
    case TensorKind::norm: scale = 0.1f, offset = 1.0f; break;
    case TensorKind::bias: scale = 0.1f; break;
  }
  for (int64_t i = 0; i < n; ++i) row[i] = offset + scale * row[i];
}

uint64_t row_seed(uint64_t seed, size_t tensor_index, int64_t row) {
  uint64_t s = seed ^ (uint64_t(tensor_index) << 40) ^ uint64_t(row);
  return splitmix64(s);
}

// Streams one tensor: rows are generated and converted in parallel, chunk by chunk.
void produce(const TensorSpec& spec, DType type, uint64_t seed, size_t index, ThreadPool& pool,
             const GgufWriter::Sink& sink) {
  int64_t n_rows = 1;
  for (size_t d = 1; d < spec.ne.size(); ++d) n_rows *= spec.ne[d];
  const int64_t n = spec.ne[0], bytes_per_row = row_bytes(type, n);
  const int64_t chunk_rows = std::max<int64_t>(1, (int64_t(16) << 20) / (n * 4));
  std::vector<uint8_t> out;
  for (int64_t r0 = 0; r0 < n_rows; r0 += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, n_rows - r0);
    out.resize(size_t(rows * bytes_per_row));
    pool.run([&](int ith, int nth) {
      int64_t begin, end;
      ThreadPool::split(rows, ith, nth, &begin, &end);
      std::vector<float> row(size_t(n) + 1);
      for (int64_t r = begin; r < end; ++r) {
        fill_row(spec, row_seed(seed, index, r0 + r), row.data());
        quant::quantize_row(type, row.data(), out.data() + r * bytes_per_row, n);
      }
    });
    sink(out.data(), out.size());
  }
}

int32_t file_type_of(DType t) {  // llama.cpp's LLAMA_FTYPE numbering for general.file_type
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q4_K: return 15;  // Q4_K_M
    case DType::Q5_K: return 17;  // Q5_K_M
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    case DType::MXFP4: return 38;
    default: return 0;
  }
}

}  // namespace

DType synth_matrix_type(DType requested, int64_t ne0) {
  if (ne0 % dtype_info(requested).block_size == 0) return requested;
  if (ne0 % dtype_info(DType::Q8_0).block_size == 0 && dtype_info(requested).block_size > 1) return DType::Q8_0;
  return DType::F32;
}

uint64_t write_synth_model(const SynthOptions& o, const std::string& path) {
  if (!quant::quant_fns(o.type).quantize) {
    throw Error("synth: cannot write weights of type " + std::string(dtype_name(o.type)));
  }
  const ModelConfig c = synth_config(o);
  GgufWriter w(path);
  w.add_string("general.name", std::string("moxie synth ") + arch_name(c.arch) + " " + o.preset);
  write_model_config(w, c);
  w.add_u32("general.file_type", uint32_t(file_type_of(o.type)));
  w.add_u32("general.quantization_version", 2);
  write_synth_vocab(w, make_synth_vocab(c.n_vocab, c.arch == Arch::deepseek2));

  ThreadPool pool(o.n_threads);
  const std::vector<TensorSpec> specs = tensor_specs(c);
  uint64_t total = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const bool vector = s.kind == TensorKind::norm || s.kind == TensorKind::bias || s.ne.size() == 1;
    const DType type = vector ? DType::F32 : synth_matrix_type(o.type, s.ne[0]);
    int64_t n_elements = 1;
    for (int64_t d : s.ne) n_elements *= d;
    total += uint64_t(row_bytes(type, s.ne[0]) * (n_elements / s.ne[0]));
    w.add_tensor(s.name, type, s.ne, [&, i, type](const GgufWriter::Sink& sink) {
      produce(specs[i], type, o.seed, i, pool, sink);
    });
  }
  w.finish();
  return total;
}

}  // namespace moxie
