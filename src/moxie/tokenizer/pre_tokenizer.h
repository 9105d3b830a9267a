#pragma once
// Pre-tokenizers: split text into the words BPE runs on, exactly as the Split regexes of
// each model family's tokenizer.json do under Oniguruma (leftmost-first alternation with
// backtracking), but written by hand over Unicode class tables for speed.
#include <cstdint>
#include <string_view>
#include <vector>

namespace moxie::tokenizer {

enum class PreTokenizerKind : uint8_t {
  kQwen2,       // GGUF pre "qwen2": GPT-4 pattern with single digits
  kLlama3,      // GGUF pre "llama-bpe": GPT-4 pattern, digits in groups of up to 3
  kDeepSeekV3,  // GGUF pre "deepseek-v3": digits, CJK runs, then a punctuation-aware split
  kO200k,       // GGUF pre "gpt-4o" (gpt-oss): o200k pattern with case-split words
};

// GGUF `tokenizer.ggml.pre` name of each kind, and the reverse (false if unknown).
const char* pre_tokenizer_name(PreTokenizerKind kind);
bool pre_tokenizer_from_name(std::string_view name, PreTokenizerKind* kind);

struct WordSpan {
  uint32_t begin;  // byte offsets into the text
  uint32_t end;
};

// Appends the words of text (which contains no added tokens) to *words, in order; they
// cover text exactly. Invalid UTF-8 bytes count as characters with no class (like
// punctuation for the GPT-4 patterns), so any byte string splits without error.
void pre_tokenize(PreTokenizerKind kind, std::string_view text, std::vector<WordSpan>* words);

}  // namespace moxie::tokenizer
