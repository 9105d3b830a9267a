// Tokenizer behaviour on small hand-made vocabularies: BPE merge order (hand-worked),
// agreement of the two merge strategies, invalid UTF-8, added tokens, BOS/EOS, broken
// vocabularies and malformed tokenizer.json files.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/tokenizer/bpe.h"
#include "moxie/tokenizer/byte_level.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/nfc.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::tokenizer {
namespace {

// Ids 0..255 are the bytes; then each merge adds its result, in rank order.
TokenizerData byte_vocab(const std::vector<std::pair<std::string, std::string>>& merges, PreTokenizerKind pre) {
  TokenizerData d;
  d.source = "test-vocab";
  d.pre = pre;
  for (int b = 0; b < 256; ++b) d.tokens.push_back(bytes_to_byte_level(std::string(1, char(b))));
  for (const auto& [l, r] : merges) {
    d.merges.push_back({bytes_to_byte_level(l), bytes_to_byte_level(r)});
    d.tokens.push_back(bytes_to_byte_level(l + r));
  }
  return d;
}

TEST(Bpe, AppliesLowestRankFirstLeftmostOnTies) {
  // Ranks: 0 "b"+"c", 1 "a"+"b", 2 "a"+"bc".  "abc": bc merges first (rank 0), then a+bc.
  // "abab": a+b twice (rank 1, leftmost first), no merge for ab+ab.
  const Tokenizer tok(byte_vocab({{"b", "c"}, {"a", "b"}, {"a", "bc"}}, PreTokenizerKind::kQwen2));
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{258}));
  EXPECT_EQ(tok.encode("abab"), (std::vector<int32_t>{257, 257}));
  EXPECT_EQ(tok.encode("cab"), (std::vector<int32_t>{'c', 257}));
  // "aaa" with a+a: the leftmost pair merges, leaving [aa, a].
  const Tokenizer aa(byte_vocab({{"a", "a"}}, PreTokenizerKind::kQwen2));
  EXPECT_EQ(aa.encode("aaa"), (std::vector<int32_t>{256, 'a'}));
}

TEST(Bpe, QuadraticAndHeapStrategiesAgree) {
  std::mt19937 rng(7);
  std::array<int32_t, 256> bytes;
  for (int b = 0; b < 256; ++b) bytes[b] = b;
  // Random merges over a 4-letter alphabet: token strings up to length 6.
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
  MergeTable merges;
  merges.reserve(400);
  std::vector<std::string> pool = {"a", "b", "c", "d"};
  for (uint32_t rank = 0; rank < 300; ++rank) {
    const std::string l = pool[rng() % pool.size()];  // copies: pool grows below
    const std::string r = pool[rng() % pool.size()];
    if (l.size() + r.size() > 6) continue;
    auto find = [&](const std::string& s) { return int32_t(std::find(tokens.begin(), tokens.end(), s) - tokens.begin()); };
    int32_t merged = find(l + r);
    if (merged == int32_t(tokens.size())) tokens.push_back(l + r), pool.push_back(l + r);
    merges.insert(find(l), find(r), rank, merged);
  }
  BytePairEncoder bpe(bytes, merges, {}, false);
  for (int trial = 0; trial < 300; ++trial) {
    std::string word(1 + rng() % 300, 'a');
    for (char& c : word) c = "abcd"[rng() % 4];
    std::vector<int32_t> q, h;
    bpe.encode_quadratic(word, &q);
    bpe.encode_heap(word, &h);
    ASSERT_EQ(q, h) << word;
  }
}

TEST(Tokenizer, InvalidUtf8RoundTripsThroughByteTokens) {
  std::mt19937 rng(11);
  for (PreTokenizerKind pre : {PreTokenizerKind::kQwen2, PreTokenizerKind::kLlama3, PreTokenizerKind::kDeepSeekV3,
                               PreTokenizerKind::kO200k}) {
    TokenizerData d = byte_vocab({{" ", "a"}, {"\xC3", "\xA9"}}, pre);
    d.nfc = pre == PreTokenizerKind::kQwen2;
    const Tokenizer tok(std::move(d));
    for (const std::string& s : std::vector<std::string>{"\xFF\xFE abc \xC3", "\xC3\xA9\xC3", "\xED\xA0\x80 x", "a\x80\x80\x80" "b",
                                "\xF0\x9F\x98", std::string("\0\0 a", 4)}) {
      EXPECT_EQ(tok.decode(tok.encode(s)), s);
    }
    for (int i = 0; i < 200; ++i) {
      std::string s(rng() % 40, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      // Qwen2 normalizes the valid parts to NFC (U+0343 becomes U+0313, for one).
      std::string expected = s;
      if (pre == PreTokenizerKind::kQwen2) nfc_normalize(s, &expected);
      ASSERT_EQ(tok.decode(tok.encode(s)), expected) << pre_tokenizer_name(pre);
    }
  }
}

TEST(Tokenizer, AddedTokensSpecialAndPlain) {
  TokenizerData d = byte_vocab({{"<", "|"}}, PreTokenizerKind::kQwen2);
  const int32_t n = static_cast<int32_t>(d.tokens.size());
  d.tokens.push_back("<|end|>");
  d.tokens.push_back("<think>");
  d.tokens.push_back("<|end|>x");
  d.added_tokens = {{n, "<|end|>", true, false}, {n + 1, "<think>", false, false}, {n + 2, "<|end|>x", true, false}};
  d.bos_id = n;
  d.add_bos = true;
  const Tokenizer tok(std::move(d));
  // Leftmost-longest: "<|end|>x" wins over "<|end|>" at the same start.
  EXPECT_EQ(tok.encode("<|end|>x", {.add_special = false}), (std::vector<int32_t>{n + 2}));
  EXPECT_EQ(tok.encode("a<|end|>", {.add_special = true}), (std::vector<int32_t>{n, 'a', n}));
  // Special text as plain text: only the non-special <think> is still matched.
  const auto plain = tok.encode("<|end|><think>", {.add_special = false, .parse_special = false});
  EXPECT_EQ(plain.back(), n + 1);
  EXPECT_EQ(tok.decode(plain), "<|end|><think>");
  EXPECT_EQ(plain.front(), 256);  // "<|" merged from bytes, not the special token
  EXPECT_TRUE(tok.is_special(n));
  EXPECT_FALSE(tok.is_special(n + 1));
  EXPECT_EQ(tok.decode({n, 'a'}, /*skip_special=*/true), "a");
  EXPECT_THROW(tok.decode({n + 3}), Error);
}

std::string error_of(TokenizerData d) {
  try {
    Tokenizer tok(std::move(d));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Tokenizer, BrokenVocabularyFailsWithAClearMessage) {
  TokenizerData missing_byte = byte_vocab({}, PreTokenizerKind::kQwen2);
  missing_byte.tokens[0x41] = "not-A";
  EXPECT_NE(error_of(missing_byte).find("no token for byte 0x41"), std::string::npos) << error_of(missing_byte);
  TokenizerData bad_merge = byte_vocab({{"a", "b"}}, PreTokenizerKind::kQwen2);
  bad_merge.merges.push_back({"ab", "zz"});
  EXPECT_NE(error_of(bad_merge).find("merge 1 ('ab' 'zz'): its right side is not in the vocabulary"), std::string::npos)
      << error_of(bad_merge);
  TokenizerData bad_id = byte_vocab({}, PreTokenizerKind::kQwen2);
  bad_id.eos_id = 999;
  EXPECT_NE(error_of(bad_id).find("eos token id 999 is outside the vocabulary of 256 tokens"), std::string::npos);
  TokenizerData bad_types = byte_vocab({}, PreTokenizerKind::kQwen2);
  bad_types.types.resize(3);
  EXPECT_NE(error_of(bad_types).find("3 token types for 256 tokens"), std::string::npos);
  EXPECT_NE(error_of(TokenizerData{}).find("the vocabulary is empty"), std::string::npos);
}

std::string json_error_of(const std::string& json) {
  try {
    parse_hf_tokenizer_json(json, "", "t.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(HfTokenizerJson, MalformedFilesNameTheProblem) {
  EXPECT_NE(json_error_of("{\"model\": ").find("t.json: not valid JSON at byte 11"), std::string::npos)
      << json_error_of("{\"model\": ");
  const std::string pre = R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern":
      {"Regex": "\\p{N}+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "use_regex": false}]})";
  EXPECT_NE(json_error_of("{" + pre + "}").find("unsupported Split pattern(s): \\p{N}+"), std::string::npos)
      << json_error_of("{" + pre + "}");
  EXPECT_NE(json_error_of(R"({"normalizer": {"type": "NFKC"}})").find("normalizer: unsupported normalizer \"NFKC\""),
            std::string::npos);
  EXPECT_NE(json_error_of("[1]").find("t.json: root: expected a JSON object"), std::string::npos);
  try {
    load_hf_tokenizer_json("/nonexistent/tokenizer.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/tokenizer.json: cannot open the file");
  }
}

}  // namespace
}  // namespace moxie::tokenizer
