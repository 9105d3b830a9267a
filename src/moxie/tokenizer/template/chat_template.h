#pragma once
// Chat templates: the Jinja2 program stored in a model's tokenizer config or GGUF
// (`tokenizer.chat_template`) that turns a list of messages into the prompt text.
// Rendering matches Hugging Face's apply_chat_template byte for byte: jinja2 with
// trim_blocks and lstrip_blocks, its tojson, raise_exception and strftime_now.
//
//   moxie::ChatTemplate tmpl(source);                    // throws moxie::Error with the line
//   std::string prompt = moxie::apply_chat_template(tmpl, messages, tools, true, extra);
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace moxie {

// Bounds on one render, so a hostile template cannot hang or exhaust memory or stack.
struct ChatTemplateLimits {
  int64_t max_steps = 5'000'000;        // loop iterations and macro calls together
  int max_call_depth = 64;              // nested macro calls
  size_t max_output_bytes = 64u << 20;  // prompt size, and any string built on the way
};

class ChatTemplate {
 public:
  // Parses the template; throws moxie::Error naming the line and construct on bad syntax.
  explicit ChatTemplate(std::string_view source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Renders with the members of `variables` (a JSON object) as the template's variables.
  // Throws moxie::Error naming the line for runtime errors, and with the template's own
  // message for raise_exception().
  std::string render(const nlohmann::ordered_json& variables, const ChatTemplateLimits& limits = {}) const;

 private:
  struct Parsed;
  std::unique_ptr<Parsed> parsed_;
};

// Hugging Face's apply_chat_template(messages, tools=..., add_generation_prompt=...,
// **extra): `tools` null renders as None; `extra` (an object or null) holds bos_token,
// eos_token and template kwargs such as enable_thinking.
std::string apply_chat_template(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                                const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                const nlohmann::ordered_json& extra, const ChatTemplateLimits& limits = {});

// Templates moxie ships for files that carry none: "chatml" (Qwen and most others) and
// "deepseek" (DeepSeek-V2/V3/R1). Throws moxie::Error for other names.
std::string_view builtin_chat_template(std::string_view name);
// The built-in template suited to a GGUF `general.architecture` (deepseek2 -> deepseek,
// everything else -> chatml).
std::string_view builtin_chat_template_for_architecture(std::string_view architecture);

}  // namespace moxie
