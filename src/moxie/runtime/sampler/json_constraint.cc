#include "moxie/runtime/sampler/json_constraint.h"

#include <algorithm>
#include <limits>
#include <string>

#include "moxie/core/error.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

bool never_in_json(tokenizer::TokenType type) {
  using tokenizer::TokenType;
  return type == TokenType::kControl || type == TokenType::kUnused || type == TokenType::kUnknown;
}

// True when bytes, read inside a string, change nothing: no quote, no backslash, only
// printable bytes and whole UTF-8 characters (checked by the recogniser itself).
bool is_plain_string(std::string_view bytes) {
  if (bytes.find_first_of("\"\\") != std::string_view::npos) return false;
  JsonRecognizer r;
  r.push(std::string_view("{\""));
  return r.push(bytes) && r.in_plain_string();
}

}  // namespace

JsonVocab::JsonVocab(const tokenizer::Tokenizer& tok) {
  const int32_t n = tok.n_vocab();
  offsets_.reserve(size_t(n) + 1);
  flags_.assign(size_t(n), 0);
  offsets_.push_back(0);
  for (int32_t id = 0; id < n; ++id) {
    const std::string_view bytes = tok.token_bytes(id);
    blob_.append(bytes);
    if (blob_.size() > std::numeric_limits<uint32_t>::max()) throw Error("JSON mode: the vocabulary's bytes exceed 4 GiB");
    offsets_.push_back(uint32_t(blob_.size()));
    if (bytes.empty() || never_in_json(tok.token_type(id))) continue;
    flags_[size_t(id)] = kUsable | (is_plain_string(bytes) ? kPlainString : 0);
  }
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonVocab> vocab, std::vector<int32_t> end_tokens,
                               const JsonLimits& limits)
    : vocab_(std::move(vocab)), end_tokens_(std::move(end_tokens)), state_(limits) {
  if (!vocab_) throw Error("JSON mode: no vocabulary");
}

// What the next one or two bytes may be in the current state, rebuilt at every step.
struct JsonConstraint::StepTables {
  bool first_ok[256];
  JsonRecognizer after_first[256];  // the state after each allowed first byte
  bool pairs = false;               // pair_ok holds the rows of the allowed first bytes
  bool pair_ok[256][256];

  // Outside strings only a few first bytes are allowed, and most tokens that start with
  // one (" word" after '{') fail at their second byte: a pair table settles those without
  // a walk. Inside strings almost every byte is allowed and the table would cost more.
  void build(const JsonRecognizer& state) {
    int n_first = 0;
    for (int b = 0; b < 256; ++b) {
      after_first[b] = state;
      first_ok[b] = after_first[b].push(uint8_t(b));
      n_first += first_ok[b];
    }
    pairs = n_first <= 32;
    if (!pairs) return;
    for (int b = 0; b < 256; ++b) {
      if (!first_ok[b]) continue;
      for (int c = 0; c < 256; ++c) {
        JsonRecognizer next = after_first[b];
        pair_ok[b][c] = next.push(uint8_t(c));
      }
    }
  }
};

JsonConstraint::~JsonConstraint() = default;

// Cheapest tests first: the first byte decides most tokens (outside strings only a few
// bytes can come next), then the second; inside a plain string most tokens are plain text
// that needs no walk; the rest are walked on a copy of the state, stopping at the first bad byte.
bool JsonConstraint::allows(int32_t token) const {
  if (!vocab_->usable(token)) return false;
  const StepTables& t = *tables_;
  const std::string_view bytes = vocab_->bytes(token);
  const uint8_t b0 = uint8_t(bytes[0]);
  if (!t.first_ok[b0]) return false;
  if (bytes.size() == 1) return true;
  if (t.pairs && !t.pair_ok[b0][uint8_t(bytes[1])]) return false;
  if (vocab_->plain_string(token) && state_.in_plain_string()) return true;
  JsonRecognizer walk = t.after_first[b0];
  return walk.push(bytes.substr(1));
}

void JsonConstraint::apply(std::span<float> logits) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const int32_t n_tokens = int32_t(std::min<size_t>(logits.size(), size_t(vocab_->size())));
  std::fill(logits.begin() + n_tokens, logits.end(), kMasked);  // the model's padding rows
  bool any = false;
  if (complete()) {
    for (int32_t t = 0; t < n_tokens; ++t) {
      const bool end = std::find(end_tokens_.begin(), end_tokens_.end(), t) != end_tokens_.end();
      if (!end) logits[size_t(t)] = kMasked;
      any |= end && logits[size_t(t)] != kMasked;
    }
  } else {
    if (!tables_) tables_ = std::make_unique<StepTables>();
    tables_->build(state_);
    for (int32_t t = 0; t < n_tokens; ++t) {
      float& logit = logits[size_t(t)];
      if (logit == kMasked) continue;  // already out (e.g. masked by the caller): no need to test
      if (allows(t)) {
        any = true;
      } else {
        logit = kMasked;
      }
    }
  }
  if (!any) throw Error("JSON mode: no token in the vocabulary can continue the JSON text");
}

void JsonConstraint::accept(int32_t token) {
  if (complete()) {
    if (std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end()) return;
    throw Error("JSON mode: token " + std::to_string(token) + " follows the complete object");
  }
  if (token < 0 || token >= vocab_->size() || !vocab_->usable(token) || !state_.push(vocab_->bytes(token)))
    throw Error("JSON mode: token " + std::to_string(token) + " breaks the JSON text");
}

}  // namespace moxie
