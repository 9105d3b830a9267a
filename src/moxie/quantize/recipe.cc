#include "moxie/quantize/recipe.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "moxie/core/error.h"
#include "moxie/model/synth.h"

namespace moxie::quantize {
namespace {

constexpr Recipe kRecipes[] = {
    {"f32", DType::F32, DType::F32, false, 0},        {"f16", DType::F16, DType::F16, false, 1},
    {"bf16", DType::BF16, DType::BF16, false, 32},    {"q8_0", DType::Q8_0, DType::Q8_0, false, 7},
    {"q4_0", DType::Q4_0, DType::Q6_K, false, 2},     {"q4_k_s", DType::Q4_K, DType::Q6_K, false, 14},
    {"q4_k_m", DType::Q4_K, DType::Q6_K, true, 15},   {"q5_k_m", DType::Q5_K, DType::Q6_K, true, 17},
    {"q6_k", DType::Q6_K, DType::Q6_K, false, 18},
};

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }


}  // namespace

const Recipe* find_recipe(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const Recipe& r : kRecipes) {
    if (lower == r.name) return &r;
  }
  return nullptr;
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  for (const Recipe& r : kRecipes) names.emplace_back(r.name);
  return names;
}

int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  const char* first = name.data() + 4;
  const char* last = name.data() + std::min(name.find('.', 4), name.size());
  int64_t layer = -1;
  const std::from_chars_result r = std::from_chars(first, last, layer);
  if (first == last || !std::isdigit(static_cast<unsigned char>(*first)) || r.ec != std::errc() || r.ptr != last) {
    throw Error("tensor \"" + name + "\": \"blk.\" is not followed by a layer number");
  }
  return layer;
}

bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

DType recipe_tensor_type(const Recipe& r, const std::string& name, const std::vector<int64_t>& ne, int64_t n_layer,
                         bool tied) {
  if (ne.size() == 1 || contains(name, "ffn_gate_inp") || contains(name, "exp_probs_b") || ends_with(name, ".bias")) {
    return DType::F32;
  }
  DType t = r.base;
  if (name == "output.weight" || (tied && name == "token_embd.weight")) {
    t = r.output;
  } else if (r.more_bits) {
    const bool sensitive = contains(name, ".attn_v.") || contains(name, ".attn_v_b.") || contains(name, ".ffn_down");
    if (sensitive && use_more_bits(layer_of(name), n_layer)) t = DType::Q6_K;
  }
  return synth_matrix_type(t, ne[0]);
}

int32_t llama_file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::Q4_K: return 15;
    case DType::Q5_K: return 17;
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: return 0;
  }
}

}  // namespace moxie::quantize
