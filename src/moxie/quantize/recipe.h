#pragma once
// Quantization recipes: which type each tensor of a model gets, in the spirit of
// llama.cpp's llama-quantize mixes (docs/convert.md has the table):
//  - vectors (norms, biases, exp_probs_b) and expert routers (ffn_gate_inp*) stay F32;
//  - the output head (token_embd when the output is tied to it) gets Q6_K in the 4- and
//    5-bit recipes, as it is the most sensitive matrix;
//  - *_m recipes give attn_v / attn_v_b and ffn_down(_exps, _shexp) Q6_K in the layers
//    llama.cpp's use_more_bits picks (the first and last eighth, then every third layer);
//  - a row length that is not a whole number of the chosen type's blocks falls back to
//    Q8_0 when that fits, else F32.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/core/dtype.h"

namespace moxie::quantize {

struct Recipe {
  const char* name;      // "q4_k_m"
  DType base;            // most matrices
  DType output;          // output.weight (or token_embd when tied)
  bool more_bits;        // attn_v / ffn_down at Q6_K in use_more_bits layers
  int32_t file_type;     // general.file_type (llama.cpp's LLAMA_FTYPE_MOSTLY_*)
};

// nullptr when unknown.
const Recipe* find_recipe(std::string_view name);
std::vector<std::string> recipe_names();

// "blk.N.*" -> N, -1 for a tensor outside the layers; throws moxie::Error naming the tensor
// when "blk." is not followed by a layer number (a malformed file).
int64_t layer_of(const std::string& name);

// llama.cpp's choice of layers that get more bits: the first and last eighth, and every
// third layer in between.
bool use_more_bits(int64_t layer, int64_t n_layer);

// The type of tensor `name` with GGUF shape ne (ne[0] innermost) under the recipe.
// tied: the model has no output.weight, so token_embd is the output head too.
DType recipe_tensor_type(const Recipe& r, const std::string& name, const std::vector<int64_t>& ne, int64_t n_layer,
                         bool tied);

// general.file_type for a file whose matrices are mostly of type t.
int32_t llama_file_type(DType t);

}  // namespace moxie::quantize
