#include "moxie/tokenizer/template/chat_template.h"

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/lexer.h"
#include "moxie/tokenizer/template/parser.h"
#include "moxie/tokenizer/template/py_json.h"

namespace moxie {

struct ChatTemplate::Parsed {
  tmpl::Body body;
};

ChatTemplate::ChatTemplate(std::string_view source) : parsed_(std::make_unique<Parsed>()) {
  std::vector<tmpl::Token> tokens = tmpl::lex_template(source);
  parsed_->body = tmpl::parse_template(tokens);
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& variables, const ChatTemplateLimits& limits) const {
  if (!variables.is_object()) throw Error("chat template variables must be a JSON object");
  tmpl::Value vars = tmpl::value_from_json(variables);
  tmpl::RenderLimits render_limits{limits.max_steps, limits.max_call_depth, limits.max_output_bytes};
  tmpl::Interpreter interpreter(*vars.as_dict(), render_limits);
  return interpreter.render(parsed_->body);
}

std::string apply_chat_template(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                                const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                const nlohmann::ordered_json& extra, const ChatTemplateLimits& limits) {
  if (!messages.is_array()) throw Error("chat messages must be a JSON array");
  if (!tools.is_null() && !tools.is_array()) throw Error("chat tools must be a JSON array or null");
  if (!extra.is_null() && !extra.is_object()) throw Error("chat template kwargs must be a JSON object");
  // Same order as transformers: the special tokens and kwargs, then the fixed arguments.
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  if (extra.is_object())
    for (const auto& [key, value] : extra.items()) variables[key] = value;
  variables["messages"] = messages;
  variables["tools"] = tools;
  variables["documents"] = nullptr;
  variables["add_generation_prompt"] = add_generation_prompt;
  return tmpl.render(variables, limits);
}

}  // namespace moxie
