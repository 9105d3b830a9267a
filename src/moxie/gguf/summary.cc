#include "moxie/gguf/summary.h"

#include <cstdio>
#include <string_view>

#include "moxie/gguf/reader.h"

namespace moxie {

namespace {
// An integer key, or nullopt when it is absent or not a (fitting) integer: the summary
// describes what is there and never throws over a per-layer array or an odd type.
std::optional<int64_t> int_key(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  int64_t x = 0;
  if (v && v->to_i64(&x)) return x;
  return std::nullopt;
}

bool is_routed_expert(std::string_view name) { return name.find("_exps.") != std::string_view::npos; }

std::string shape_string(const GgufTensorInfo& t) {
  std::string s = "[";
  for (int j = 0; j < t.n_dims; ++j) s += (j ? ", " : "") + std::to_string(t.ne[j]);
  return s + "]";
}

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

void append_line(std::string& out, const char* fmt, const std::string& a, const std::string& b) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, a.c_str(), b.c_str());
  out += buf;
}
}  // namespace

ModelSummary summarize_model(const GgufFile& f) {
  ModelSummary s;
  if (const GgufValue* a = f.find("general.architecture"); a && a->type() == GgufType::STRING) s.architecture = a->str();
  const std::string p = s.architecture + ".";
  s.block_count = int_key(f, p + "block_count");
  s.embedding_length = int_key(f, p + "embedding_length");
  s.head_count = int_key(f, p + "attention.head_count");
  s.head_count_kv = int_key(f, p + "attention.head_count_kv");
  s.context_length = int_key(f, p + "context_length");
  s.expert_count = int_key(f, p + "expert_count");
  s.expert_used_count = int_key(f, p + "expert_used_count");
  s.expert_feed_forward_length = int_key(f, p + "expert_feed_forward_length");
  s.expert_shared_count = int_key(f, p + "expert_shared_count");
  s.expert_shared_feed_forward_length = int_key(f, p + "expert_shared_feed_forward_length");
  s.file_type = int_key(f, "general.file_type");
  if (const GgufValue* t = f.find("tokenizer.ggml.tokens"); t && t->type() == GgufType::ARRAY)
    s.vocab_size = static_cast<int64_t>(t->size());
  else
    s.vocab_size = int_key(f, p + "vocab_size");

  for (const GgufTensorInfo& t : f.tensors()) {
    s.total_params += t.n_elements();
    if (is_routed_expert(t.name)) s.routed_expert_params += t.n_elements();
    if (t.name == "token_embd.weight") s.embedding_params += t.n_elements();
  }
  s.active_params = s.total_params;
  if (s.is_moe()) {
    const double used = static_cast<double>(*s.expert_used_count) / static_cast<double>(*s.expert_count);
    s.active_params = s.total_params - s.routed_expert_params +
                      static_cast<int64_t>(static_cast<double>(s.routed_expert_params) * used + 0.5);
  }
  return s;
}

namespace {
void append_architecture(std::string& out, const ModelSummary& s) {
  out += "\narchitecture:\n";
  auto row = [&](const char* label, const std::optional<int64_t>& v) {
    if (v) append_line(out, "  %-36s %s\n", label, std::to_string(*v));
  };
  append_line(out, "  %-36s %s\n", "general.architecture", s.architecture.empty() ? "(absent)" : s.architecture);
  row("block_count", s.block_count);
  row("embedding_length", s.embedding_length);
  row("attention.head_count", s.head_count);
  row("attention.head_count_kv", s.head_count_kv);
  row("context_length", s.context_length);
  row("expert_count", s.expert_count);
  row("expert_used_count", s.expert_used_count);
  row("expert_feed_forward_length", s.expert_feed_forward_length);
  row("expert_shared_count", s.expert_shared_count);
  row("expert_shared_feed_forward_length", s.expert_shared_feed_forward_length);
  row("vocab_size", s.vocab_size);
  row("general.file_type", s.file_type);
  append_line(out, "  %-36s %s\n", "parameters (total)",
              std::to_string(s.total_params) + " (" + human_count(s.total_params) + ")");
  if (s.is_moe()) {
    append_line(out, "  %-36s %s\n", "parameters (routed experts)",
                std::to_string(s.routed_expert_params) + " (" + human_count(s.routed_expert_params) + ")");
    append_line(out, "  %-36s %s\n", "parameters (active per token)",
                std::to_string(s.active_params) + " (" + human_count(s.active_params) +
                    "; non-expert + experts x " + std::to_string(*s.expert_used_count) + "/" +
                    std::to_string(*s.expert_count) + "; embedding counted in full: " +
                    human_count(s.embedding_params) + ")");
  }
}
}  // namespace

std::string format_inspect_text(const GgufFile& f, size_t max_array_items) {
  std::string out;
  append_line(out, "%s%s\n", "file: ", f.path());
  out += "GGUF version " + std::to_string(f.version()) + ", alignment " + std::to_string(f.alignment()) +
         ", data section at byte " + std::to_string(f.data_offset()) + ", file size " +
         std::to_string(f.file_size()) + " bytes\n";
  out += "\nmetadata (" + std::to_string(f.metadata().size()) + " keys):\n";
  for (const GgufKeyValue& kv : f.metadata()) {
    std::string type(gguf_type_name(kv.value.type()));
    out += "  " + std::string(kv.key) + " (" + type + ") = " + kv.value.to_display_string(max_array_items) + "\n";
  }
  out += "\ntensors (" + std::to_string(f.tensors().size()) + "):\n";
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %-40s %-8s %-28s %14s %14s\n", "name", "type", "shape (ne, GGUF order)", "bytes",
                "offset");
  out += buf;
  for (const GgufTensorInfo& t : f.tensors()) {
    std::snprintf(buf, sizeof buf, "  %-40.*s %-8.*s %-28s %14llu %14llu\n", int(t.name.size()), t.name.data(),
                  int(dtype_name(t.type).size()), dtype_name(t.type).data(), shape_string(t).c_str(),
                  static_cast<unsigned long long>(t.n_bytes), static_cast<unsigned long long>(t.offset));
    out += buf;
  }
  append_architecture(out, summarize_model(f));
  return out;
}

}  // namespace moxie
