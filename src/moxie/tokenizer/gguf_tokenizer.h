#pragma once
// Reads a byte-level BPE tokenizer from GGUF metadata, with the keys llama.cpp's
// converter writes: tokenizer.ggml.{model, pre, tokens, token_type, merges,
// bos/eos/eot/padding_token_id, add_bos_token, add_eos_token}.
#include "moxie/tokenizer/tokenizer_data.h"

namespace moxie {
class GgufFile;
}

namespace moxie::tokenizer {

// Throws moxie::Error naming the file and key when a key is missing, has the wrong type,
// or names a tokenizer moxie does not implement (model other than "gpt2", unknown pre).
TokenizerData load_gguf_tokenizer(const GgufFile& file);

}  // namespace moxie::tokenizer
