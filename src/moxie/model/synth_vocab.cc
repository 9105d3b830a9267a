#include "moxie/model/synth_vocab.h"

#include <cctype>
#include <map>
#include <string_view>
#include <utility>

#include "moxie/core/error.h"
#include "moxie/gguf/writer.h"
#include "moxie/tokenizer/byte_level.h"

namespace moxie {
namespace {

// Merges are learned from this text (written for moxie), so synthetic models tokenize
// ordinary English into multi-byte tokens like a real vocabulary does.
constexpr std::string_view kMergeText =
    "The engine reads the model file, maps the weights into memory and runs the forward pass. "
    "Each token is routed to a few experts, and only those experts are read from memory. "
    "When many requests arrive at the same time, the server batches their tokens together, "
    "so the weights of an expert are read once for all of the tokens that chose it. "
    "The tokenizer turns text into numbers, the model turns numbers into probabilities, and "
    "the sampler picks the next token. In the beginning there was only a small model with "
    "random weights, and the tests compared its logits with an independent reference. "
    "Then the kernels became faster, the prompts became longer, and the answers came back "
    "in a stream of tokens, one after another, until the end of the reply. "
    "Question: what is the capital of France? Answer: the capital of France is Paris. "
    "Numbers like 2026, 128, 3.14 and 1000000 appear in text, and so do names, dates and code: "
    "for (int i = 0; i < n; ++i) { sum += x[i]; } return sum;\n";

// Minimal chat templates of the two families, so `moxie template` and chat work on synth models.
constexpr const char* kChatmlTemplate =
    "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";
constexpr const char* kDeepseekTemplate =
    "{{ bos_token }}{%- for message in messages %}{%- if message['role'] == 'user' %}{{ '<｜User｜>' + "
    "message['content'] }}{%- elif message['role'] == 'assistant' %}{{ '<｜Assistant｜>' + message['content'] + "
    "'<｜end▁of▁sentence｜>' }}{%- else %}{{ message['content'] }}{%- endif %}{%- endfor %}{%- if "
    "add_generation_prompt %}{{ '<｜Assistant｜>' }}{%- endif %}";

using Word = std::vector<std::string>;  // symbols (byte-level text)

std::map<std::string, int> count_words(std::string_view text) {
  std::map<std::string, int> counts;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    if (text[j] == ' ') ++j;  // a word keeps its leading space, as GPT-2-style pre-tokenizers do
    const bool alpha = j < text.size() && std::isalnum(static_cast<unsigned char>(text[j]));
    while (j < text.size() && alpha && std::isalnum(static_cast<unsigned char>(text[j]))) ++j;
    if (!alpha) ++j;
    counts[std::string(text.substr(i, j - i))]++;
    i = j;
  }
  return counts;
}

Word split_symbols(const std::string& word) {
  Word symbols;
  for (unsigned char byte : word) symbols.push_back(tokenizer::bytes_to_byte_level(std::string(1, char(byte))));
  return symbols;
}

// Greedy BPE training: repeatedly merge the most frequent adjacent pair (ties: smallest pair).
std::vector<std::pair<std::string, std::string>> learn_merges(size_t max_merges) {
  std::vector<std::pair<Word, int>> words;
  for (const auto& [w, n] : count_words(kMergeText)) words.emplace_back(split_symbols(w), n);
  std::vector<std::pair<std::string, std::string>> merges;
  while (merges.size() < max_merges) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [w, n] : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) pairs[{w[i], w[i + 1]}] += n;
    }
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (best == pairs.end() || it->second > best->second) best = it;
    }
    if (best == pairs.end() || best->second < 2) break;
    const auto [left, right] = best->first;
    merges.emplace_back(left, right);
    for (auto& [w, n] : words) {
      Word merged;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == left && w[i + 1] == right) {
          merged.push_back(left + right);
          ++i;
        } else {
          merged.push_back(w[i]);
        }
      }
      w = std::move(merged);
    }
  }
  return merges;
}

}  // namespace

SynthVocab make_synth_vocab(int64_t n_vocab, bool deepseek_names) {
  if (n_vocab < 300) throw Error("synthetic vocabulary needs at least 300 tokens, got " + std::to_string(n_vocab));
  SynthVocab v;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(tokenizer::bytes_to_byte_level(std::string(1, char(b))));
    v.types.push_back(1);
  }
  const std::vector<std::string> specials =
      deepseek_names ? std::vector<std::string>{"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"}
                     : std::vector<std::string>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  const size_t max_merges = size_t(n_vocab) - 256 - specials.size();
  for (const auto& [left, right] : learn_merges(max_merges)) {
    v.merges.push_back(left + " " + right);
    v.tokens.push_back(left + right);
    v.types.push_back(1);
  }
  const int32_t first_special = int32_t(v.tokens.size());
  for (const std::string& s : specials) {
    v.tokens.push_back(s);
    v.types.push_back(3);
  }
  while (int64_t(v.tokens.size()) < n_vocab) {
    v.tokens.push_back("[PAD" + std::to_string(v.tokens.size()) + "]");
    v.types.push_back(5);
  }
  if (deepseek_names) {
    v.bos_id = first_special;
    v.eos_id = first_special + 1;
    v.add_bos = true;
    v.pre = "deepseek-v3";
  } else {
    v.bos_id = first_special;  // <|endoftext|>, not added (Qwen adds no BOS)
    v.eos_id = first_special + 2;  // <|im_end|>
    v.pre = "qwen2";
  }
  v.eot_id = v.eos_id;
  v.pad_id = first_special;
  return v;
}

void write_synth_vocab(GgufWriter& w, const SynthVocab& v) {
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", v.pre);
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(v.tokens));
  w.add_array<int32_t>("tokenizer.ggml.token_type", std::span<const int32_t>(v.types));
  w.add_string_array("tokenizer.ggml.merges", std::span<const std::string>(v.merges));
  w.add_u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos_id));
  w.add_u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos_id));
  w.add_u32("tokenizer.ggml.padding_token_id", uint32_t(v.pad_id));
  w.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.add_string("tokenizer.chat_template", v.pre == "deepseek-v3" ? kDeepseekTemplate : kChatmlTemplate);
}

}  // namespace moxie
