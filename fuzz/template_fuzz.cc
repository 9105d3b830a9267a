// libFuzzer target for the chat-template lexer, parser and interpreter: any input must
// either render or throw moxie::Error, never crash, hang or overflow the stack. Renders
// run under tight limits with a small conversation so every construct has data to touch.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/chat_template.h"

namespace {
const nlohmann::ordered_json& fuzz_variables() {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true, "tools": null,
    "messages": [
      {"role": "system", "content": "sys"},
      {"role": "user", "content": "h\u00e9llo <think>x</think>"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": {"a": [1, 2.5, true, null]}}}]},
      {"role": "tool", "content": "42"}
    ]})");
  return vars;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  moxie::ChatTemplateLimits limits;
  limits.max_steps = 20'000;
  limits.max_call_depth = 32;
  limits.max_output_bytes = 1 << 20;
  try {
    moxie::ChatTemplate tmpl(source);
    (void)tmpl.render(fuzz_variables(), limits);
  } catch (const moxie::Error&) {
    // Bad templates are expected; anything else escaping is a bug the fuzzer reports.
  }
  return 0;
}
