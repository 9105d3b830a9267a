#pragma once
// tokenizer.json + tokenizer_config.json -> the GGUF tokenizer keys llama.cpp's converter
// writes: tokenizer.ggml.{model, pre, tokens, token_type, merges, bos/eos/padding_token_id,
// add_bos_token, add_eos_token} and tokenizer.chat_template. Ids missing from the
// vocabulary up to the model's vocab_size become "[PAD<id>]" tokens of type unused, as in
// llama.cpp's converter.
#include <cstdint>
#include <string>

namespace moxie {
class GgufWriter;
}

namespace moxie::convert {

// Returns the number of tokens written. Throws moxie::Error naming the file and field.
int64_t write_tokenizer_keys(GgufWriter& w, const std::string& dir, int64_t n_vocab);

// The chat template of tokenizer_config.json text ("" when there is none): a string, or
// the "default" entry of a list of {name, template}.
std::string chat_template_of(const std::string& config_json, const std::string& source);

}  // namespace moxie::convert
