// The JSON form of `moxie inspect`: the same content as the text report, one object.
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>

#include "moxie/gguf/reader.h"
#include "moxie/gguf/summary.h"

namespace moxie {

namespace {
using nlohmann::json;

// Floats that JSON cannot hold (NaN, inf) become strings.
json float_json(double d) {
  if (std::isfinite(d)) return d;
  return std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");
}

json scalar_json(const GgufValue& v) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  bool b = false;
  if (v.type() == GgufType::STRING) return std::string(v.str());
  if (v.to_bool(&b)) return b;
  if (v.to_f64(&d)) return float_json(d);
  if (v.to_i64(&i)) return i;
  v.to_u64(&u);
  return u;
}

// Arrays show at most max_items items; "count" always gives the full length.
json value_json(const GgufValue& v, size_t max_items) {
  if (v.type() != GgufType::ARRAY) return scalar_json(v);
  json items = json::array();
  for (uint64_t i = 0; i < v.size() && i < max_items; ++i) items.push_back(value_json(v.element(i), max_items));
  return json{{"element_type", gguf_type_name(v.elem_type())},
              {"count", v.size()},
              {"items", std::move(items)},
              {"truncated", v.size() > max_items}};
}

json optional_json(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
}  // namespace

std::string format_inspect_json(const GgufFile& f, size_t max_array_items) {
  json metadata = json::array();
  for (const GgufKeyValue& kv : f.metadata())
    metadata.push_back({{"key", std::string(kv.key)},
                        {"type", gguf_type_name(kv.value.type())},
                        {"value", value_json(kv.value, max_array_items)}});
  json tensors = json::array();
  for (const GgufTensorInfo& t : f.tensors()) {
    json shape = json::array();
    for (int j = 0; j < t.n_dims; ++j) shape.push_back(t.ne[j]);
    tensors.push_back({{"name", std::string(t.name)},
                       {"type", std::string(dtype_name(t.type))},
                       {"type_id", static_cast<uint32_t>(t.type)},
                       {"ne", std::move(shape)},
                       {"bytes", t.n_bytes},
                       {"offset", t.offset}});
  }
  const ModelSummary s = summarize_model(f);
  json arch = {
      {"architecture", s.architecture},
      {"block_count", optional_json(s.block_count)},
      {"embedding_length", optional_json(s.embedding_length)},
      {"head_count", optional_json(s.head_count)},
      {"head_count_kv", optional_json(s.head_count_kv)},
      {"context_length", optional_json(s.context_length)},
      {"expert_count", optional_json(s.expert_count)},
      {"expert_used_count", optional_json(s.expert_used_count)},
      {"expert_feed_forward_length", optional_json(s.expert_feed_forward_length)},
      {"expert_shared_count", optional_json(s.expert_shared_count)},
      {"expert_shared_feed_forward_length", optional_json(s.expert_shared_feed_forward_length)},
      {"vocab_size", optional_json(s.vocab_size)},
      {"file_type", optional_json(s.file_type)},
      {"total_params", s.total_params},
      {"routed_expert_params", s.routed_expert_params},
      {"embedding_params", s.embedding_params},
      {"active_params", s.active_params},
      {"is_moe", s.is_moe()},
      {"active_params_note", "non-routed-expert parameters (embedding counted in full) + routed expert "
                             "parameters x expert_used_count / expert_count"},
  };
  json out = {{"path", f.path()},
              {"version", f.version()},
              {"alignment", f.alignment()},
              {"data_offset", f.data_offset()},
              {"file_size", f.file_size()},
              {"metadata", std::move(metadata)},
              {"tensors", std::move(tensors)},
              {"summary", std::move(arch)}};
  // GGUF strings should be UTF-8 but nothing guarantees it: invalid bytes become U+FFFD.
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace moxie
