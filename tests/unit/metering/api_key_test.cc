// Key secrets and their hashes: SHA-256 against the FIPS 180-2 appendix B examples,
// secret format and uniqueness, Authorization header parsing.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "moxie/core/error.h"
#include "moxie/server/metering/api_key.h"

namespace moxie::metering {
namespace {

TEST(Sha256, MatchesTheStandardsExamples) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Secrets, HaveTheDocumentedShapeAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string s = generate_secret();
    ASSERT_EQ(s.size(), 46u) << s;
    ASSERT_EQ(s.substr(0, 3), "mx-");
    for (char c : s.substr(3)) ASSERT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << s;
    ASSERT_TRUE(seen.insert(s).second);
  }
  const std::string id = generate_key_id();
  EXPECT_EQ(id.size(), 20u);
  EXPECT_EQ(id.substr(0, 4), "key_");
  EXPECT_EQ(generate_reservation_id().size(), 36u);
}

TEST(Secrets, UseEveryBase64urlSymbol) {
  // 32 random bytes -> 43 symbols; over 200 secrets all 64 symbols should appear
  // (a broken encoder that, say, never emits '-' or '_' fails here).
  std::set<char> symbols;
  for (int i = 0; i < 200; ++i)
    for (char c : generate_secret().substr(3)) symbols.insert(c);
  EXPECT_EQ(symbols.size(), 64u);
}

TEST(Bearer, ParsesTheAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer mx-abc"), "mx-abc");
  EXPECT_EQ(bearer_token("bearer   mx-abc  "), "mx-abc");
  EXPECT_EQ(bearer_token("BEARER mx-abc"), "mx-abc");
  EXPECT_EQ(bearer_token(""), "");
  EXPECT_EQ(bearer_token("   "), "");
  EXPECT_THROW(bearer_token("Basic dXNlcjpwYXNz"), Error);
  EXPECT_THROW(bearer_token("Bearer"), Error);
  EXPECT_THROW(bearer_token("mx-abc"), Error);
}

}  // namespace
}  // namespace moxie::metering
