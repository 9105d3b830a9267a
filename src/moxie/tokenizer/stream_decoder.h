#pragma once
// Turns a stream of token ids into text that is safe to show as it arrives: a token may
// end in the middle of a UTF-8 character (byte tokens, split emoji), so the incomplete
// tail is held back until the next tokens complete it. Bytes that can never become valid
// UTF-8 are replaced by U+FFFD, so every piece returned is valid UTF-8 on its own.
#include <cstdint>
#include <string>

namespace moxie::tokenizer {

class Tokenizer;

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Adds one token; returns the text completed by it (often empty or one character).
  // Throws moxie::Error for an id outside the vocabulary.
  std::string push(int32_t id);
  // Ends the stream: an incomplete character left over becomes U+FFFD.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of an incomplete UTF-8 character (at most 3)
};

// Appends the valid UTF-8 of bytes to *out with each invalid byte replaced by U+FFFD;
// returns how many bytes at the end were left out because they start a character that
// later bytes might complete (0 to 3), when hold_incomplete is set.
size_t append_valid_utf8(const std::string& bytes, bool hold_incomplete, std::string* out);

}  // namespace moxie::tokenizer
