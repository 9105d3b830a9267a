#pragma once
// A small but real byte-level BPE vocabulary for synthetic models: the 256 byte tokens,
// merges learned from a built-in English text, chat special tokens, and unused padding
// tokens up to the requested size. Written as tokenizer.ggml.* metadata.
#include <cstdint>
#include <string>
#include <vector>

namespace moxie {

class GgufWriter;

struct SynthVocab {
  std::vector<std::string> tokens;  // byte-level text
  std::vector<int32_t> types;       // GGUF token types: 1 normal, 3 control, 5 unused, 6 byte
  std::vector<std::string> merges;  // "left right", in rank order
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, pad_id = -1;
  bool add_bos = false;
  std::string pre;  // tokenizer.ggml.pre
};

// n_vocab >= 300. deepseek_names picks DeepSeek's special-token spellings and pre-tokenizer.
SynthVocab make_synth_vocab(int64_t n_vocab, bool deepseek_names);
void write_synth_vocab(GgufWriter& w, const SynthVocab& v);

}  // namespace moxie
