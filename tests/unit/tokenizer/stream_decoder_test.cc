// Streaming decode: output pieces are always valid UTF-8 and concatenate to the text.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "moxie/tokenizer/byte_level.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"
#include "moxie/tokenizer/unicode.h"

namespace moxie::tokenizer {
namespace {

Tokenizer bytes_only() {
  TokenizerData d;
  d.source = "bytes";
  for (int b = 0; b < 256; ++b) d.tokens.push_back(bytes_to_byte_level(std::string(1, char(b))));
  d.tokens.push_back(bytes_to_byte_level("\xF0\x9F"));  // half an emoji as one token
  d.merges.push_back({d.tokens[0xF0], d.tokens[0x9F]});
  return Tokenizer(std::move(d));
}

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += decode_utf8(p + i, s.size() - i, &cp);
    if (cp == kInvalidCodePoint) return false;
  }
  return true;
}

TEST(StreamDecoder, HoldsBackIncompleteCharacters) {
  const Tokenizer tok = bytes_only();
  StreamDecoder dec(tok);
  EXPECT_EQ(dec.push(256), "");  // F0 9F
  EXPECT_EQ(dec.push(0x98), "");
  EXPECT_EQ(dec.push(0x80), "\xF0\x9F\x98\x80");  // U+1F600 complete
  EXPECT_EQ(dec.push('a'), "a");
  EXPECT_EQ(dec.push(0xC3), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");  // the stream ended inside a character
}

TEST(StreamDecoder, ReplacesBytesThatCanNeverBeValid) {
  const Tokenizer tok = bytes_only();
  StreamDecoder dec(tok);
  EXPECT_EQ(dec.push(0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.push(0xE2), "");
  EXPECT_EQ(dec.push(0x82), "");
  EXPECT_EQ(dec.push('A'), "\xEF\xBF\xBD" "A");  // E2 82 then 'A': one broken character
  EXPECT_EQ(dec.push(0xED), "");
  EXPECT_EQ(dec.push(0xA0), "\xEF\xBF\xBD\xEF\xBF\xBD");  // ED A0 starts a surrogate: invalid
  EXPECT_EQ(dec.flush(), "");
}

TEST(StreamDecoder, PiecesAreValidAndConcatenateToTheText) {
  const Tokenizer tok = bytes_only();
  std::mt19937 rng(3);
  const std::vector<std::string> alphabet = {"a", " ", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\n"};
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    for (int i = 0, n = rng() % 30; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    StreamDecoder dec(tok);
    std::string streamed;
    for (int32_t id : tok.encode(text)) {
      const std::string piece = dec.push(id);
      ASSERT_TRUE(valid_utf8(piece));
      streamed += piece;
    }
    streamed += dec.flush();
    ASSERT_EQ(streamed, text);
  }
}

}  // namespace
}  // namespace moxie::tokenizer
