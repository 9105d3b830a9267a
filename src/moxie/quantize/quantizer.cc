#include "moxie/quantize/quantizer.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/writer.h"
#include "moxie/quant/quant.h"
#include "moxie/quantize/recipe.h"

namespace moxie::quantize {
namespace {

constexpr int64_t kChunkFloats = int64_t(1) << 20;  // about 4 MiB of f32 rows per step

struct Job {
  const GgufTensorInfo* in;
  DType out_type;
  std::vector<int64_t> ne;
  int64_t n_rows;
};

std::string recipe_list() {
  std::string s;
  for (const std::string& n : recipe_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

int64_t model_layers(const GgufFile& f) {
  int64_t n = 0;
  for (const GgufTensorInfo& t : f.tensors()) n = std::max<int64_t>(n, layer_of(std::string(t.name)) + 1);
  return n;
}

std::vector<Job> plan_jobs(const GgufFile& f, const Recipe& r, bool allow_requantize) {
  const int64_t n_layer = model_layers(f);
  const bool tied = f.find_tensor("output.weight") == nullptr;
  std::vector<Job> jobs;
  for (const GgufTensorInfo& t : f.tensors()) {
    Job j{&t, DType::F32, {}, 0};
    for (int d = 0; d < std::max(1, t.n_dims); ++d) j.ne.push_back(t.ne[d]);
    j.n_rows = t.n_elements() / t.ne[0];
    j.out_type = recipe_tensor_type(r, std::string(t.name), j.ne, n_layer, tied);
    if (!quant::quant_fns(t.type).dequantize) {
      throw Error(f.path() + ": tensor \"" + std::string(t.name) + "\" has type " + std::string(dtype_name(t.type)) +
                  ", which moxie cannot read");
    }
    const bool quantized = dtype_info(t.type).block_size > 1;
    if (quantized && t.type != j.out_type && !allow_requantize) {
      throw Error(f.path() + ": tensor \"" + std::string(t.name) + "\" is already " + std::string(dtype_name(t.type)) +
                  "; quantizing it again loses accuracy twice (pass --allow-requantize to do it anyway)");
    }
    jobs.push_back(std::move(j));
  }
  return jobs;
}

void copy_metadata(const GgufFile& f, GgufWriter& w, const Recipe& r) {
  for (const GgufKeyValue& kv : f.metadata()) {
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version") continue;
    w.add(kv.key, kv.value);
  }
  w.add_u32("general.file_type", uint32_t(r.file_type));
  if (dtype_info(r.base).block_size > 1) w.add_u32("general.quantization_version", 2);
}

// Rows [begin, end) of the job's tensor converted into out.
void convert_rows(const Job& j, int64_t begin, int64_t end, unsigned char* out, ThreadPool& pool) {
  const int64_t n = j.ne[0], in_bytes = row_bytes(j.in->type, n), out_bytes = row_bytes(j.out_type, n);
  const auto* src = static_cast<const unsigned char*>(j.in->view.data);
  if (j.in->type == j.out_type) {  // same type: the bytes as they are, nothing to lose
    std::memcpy(out, src + begin * in_bytes, size_t((end - begin) * in_bytes));
    return;
  }
  pool.run([&](int ith, int nth) {
    int64_t b = 0, e = 0;
    ThreadPool::split(end - begin, ith, nth, &b, &e);
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = begin + b; r < begin + e; ++r) {
      quant::dequantize_row(j.in->type, src + r * in_bytes, row.data(), n);
      quant::quantize_row(j.out_type, row.data(), out + (r - begin) * out_bytes, n);
    }
  });
}

}  // namespace

QuantizeResult quantize_gguf(const QuantizeOptions& o) {
  const Recipe* r = find_recipe(o.recipe);
  if (!r) throw Error("quantize: unknown type \"" + o.recipe + "\" (known: " + recipe_list() + ")");
  const GgufFile f = GgufFile::open(o.in_path);
  const std::vector<Job> jobs = plan_jobs(f, *r, o.allow_requantize);
  GgufWriter w(o.out_path);
  copy_metadata(f, w, *r);
  QuantizeResult result;
  uint64_t total = 0;
  for (const Job& j : jobs) {
    w.add_tensor(j.in->name, j.out_type, j.ne);
    total += uint64_t(row_bytes(j.out_type, j.ne[0]) * j.n_rows);
    result.in_bytes += j.in->n_bytes;
    result.tensors_per_type[j.out_type]++;
  }
  w.write_header();
  ThreadPool pool(std::max(1, o.n_threads));
  std::vector<unsigned char> buffer;
  for (const Job& j : jobs) {
    const int64_t chunk = std::max<int64_t>(1, kChunkFloats / j.ne[0]), bytes = row_bytes(j.out_type, j.ne[0]);
    for (int64_t begin = 0; begin < j.n_rows; begin += chunk) {
      const int64_t end = std::min(j.n_rows, begin + chunk);
      buffer.resize(size_t((end - begin) * bytes));
      convert_rows(j, begin, end, buffer.data(), pool);
      w.write_tensor_data(buffer.data(), buffer.size());
      result.out_bytes += buffer.size();
      if (o.progress) o.progress(result.out_bytes, total, std::string(j.in->name));
    }
  }
  w.finish();
  result.n_tensors = int64_t(jobs.size());
  return result;
}

}  // namespace moxie::quantize
