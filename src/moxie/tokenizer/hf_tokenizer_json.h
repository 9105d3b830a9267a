#pragma once
// Loads a Hugging Face tokenizer.json (byte-level BPE models only) into TokenizerData.
// A tokenizer_config.json next to it, when present, adds add_bos_token/add_eos_token and
// the bos/eos/pad token names, as transformers does.
#include <string>
#include <string_view>

#include "moxie/tokenizer/tokenizer_data.h"

namespace moxie::tokenizer {

// Throws moxie::Error naming the file and the JSON field when the file cannot be read,
// is not JSON, or describes a tokenizer moxie does not implement.
TokenizerData load_hf_tokenizer_json(const std::string& path);

// The same from the JSON text itself; config_json may be empty (no tokenizer_config.json).
TokenizerData parse_hf_tokenizer_json(std::string_view json_text, std::string_view config_json,
                                      const std::string& source);

}  // namespace moxie::tokenizer
