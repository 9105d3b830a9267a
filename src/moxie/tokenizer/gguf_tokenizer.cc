#include "moxie/tokenizer/gguf_tokenizer.h"

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"

namespace moxie::tokenizer {
namespace {

int32_t optional_id(const GgufFile& file, const char* key) {
  const auto v = file.opt_u32(key);
  if (!v) return -1;
  if (*v > 0x7FFFFFFF) throw Error(file.path() + ": " + key + " = " + std::to_string(*v) + " is not a token id");
  return static_cast<int32_t>(*v);
}

}  // namespace

TokenizerData load_gguf_tokenizer(const GgufFile& file) {
  TokenizerData data;
  data.source = file.path();
  const std::string_view model = file.get_string("tokenizer.ggml.model");
  if (model != "gpt2") {
    throw Error(file.path() + ": tokenizer.ggml.model = \"" + std::string(model) +
                "\" is not supported (only byte-level BPE, \"gpt2\")");
  }
  const std::string_view pre = file.opt_string("tokenizer.ggml.pre").value_or("default");
  if (!pre_tokenizer_from_name(pre, &data.pre)) {
    throw Error(file.path() + ": tokenizer.ggml.pre = \"" + std::string(pre) +
                "\" is not supported (qwen2, deepseek-v3, llama-bpe, gpt-4o)");
  }
  // The Hugging Face tokenizers these GGUF files come from: Qwen2/3 normalize to NFC;
  // Llama 3 and o200k emit a word that is already a token without merging it.
  data.nfc = data.pre == PreTokenizerKind::kQwen2;
  data.ignore_merges = data.pre == PreTokenizerKind::kLlama3 || data.pre == PreTokenizerKind::kO200k;

  for (std::string_view t : file.get_string_array("tokenizer.ggml.tokens")) data.tokens.emplace_back(t);
  if (file.find("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = file.get_i64_array("tokenizer.ggml.token_type");
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < 0 || types[i] > 6) {
        throw Error(file.path() + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] = " +
                    std::to_string(types[i]) + " is not a token type (0..6)");
      }
      data.types.push_back(static_cast<TokenType>(types[i]));
    }
  }
  const auto merges = file.get_string_array("tokenizer.ggml.merges");
  data.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string_view m = merges[i];
    const size_t space = m.find(' ');
    if (space == std::string_view::npos || m.find(' ', space + 1) != std::string_view::npos) {
      throw Error(file.path() + ": tokenizer.ggml.merges[" + std::to_string(i) + "] = \"" + std::string(m) +
                  "\" is not \"left right\"");
    }
    data.merges.emplace_back(std::string(m.substr(0, space)), std::string(m.substr(space + 1)));
  }
  // Control tokens are special; user-defined ones are added tokens matched in any text.
  for (size_t i = 0; i < data.types.size() && i < data.tokens.size(); ++i) {
    if (data.types[i] == TokenType::kControl || data.types[i] == TokenType::kUserDefined) {
      data.added_tokens.push_back({static_cast<int32_t>(i), data.tokens[i], data.types[i] == TokenType::kControl,
                                   false});
    }
  }
  data.bos_id = optional_id(file, "tokenizer.ggml.bos_token_id");
  data.eos_id = optional_id(file, "tokenizer.ggml.eos_token_id");
  data.eot_id = optional_id(file, "tokenizer.ggml.eot_token_id");
  data.pad_id = optional_id(file, "tokenizer.ggml.padding_token_id");
  data.add_bos = file.opt_bool("tokenizer.ggml.add_bos_token").value_or(false);
  data.add_eos = file.opt_bool("tokenizer.ggml.add_eos_token").value_or(false);
  return data;
}

}  // namespace moxie::tokenizer
