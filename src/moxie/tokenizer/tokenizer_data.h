#pragma once
// Everything that defines a byte-level BPE tokenizer, as plain data. The loaders
// (tokenizer.json, GGUF metadata) only fill this struct; Tokenizer validates it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "moxie/tokenizer/pre_tokenizer.h"

namespace moxie::tokenizer {

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special tokens (<|im_start|>): matched only when parsing specials
  kUserDefined = 4,  // added tokens that are not special (<think>): always matched
  kUnused = 5,
  kByte = 6,
};

struct AddedToken {
  int32_t id = -1;
  std::string content;     // the text matched in the input, as is (not byte-level)
  bool special = false;    // text treated as plain text when parse_special is off
  bool normalized = false; // matched after normalization (true) or on the raw text
};

struct TokenizerData {
  std::string source;                    // file name, for error messages
  std::vector<std::string> tokens;       // [n_vocab] text in the byte-level alphabet
  std::vector<TokenType> types;          // [n_vocab]
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<AddedToken> added_tokens;  // matched before pre-tokenization
  PreTokenizerKind pre = PreTokenizerKind::kQwen2;
  bool nfc = false;            // NFC-normalize text before pre-tokenization (Qwen2/3)
  bool ignore_merges = false;  // a word that is a whole token skips BPE (Llama 3, o200k)
  int32_t bos_id = -1, eos_id = -1, pad_id = -1, eot_id = -1;  // -1: none
  bool add_bos = false, add_eos = false;
};

}  // namespace moxie::tokenizer
