// Fallback chat templates for model files that carry none. Written for moxie; the
// Python oracle (tools/ref/render_templates.py) reads them out of this file between the
// R"jinja( ... )jinja" markers, so keep one template per marker pair.
#include <string>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/chat_template.h"

namespace moxie {
namespace {

// ChatML (<|im_start|>role\n...<|im_end|>), with tool definitions and calls in the
// <tools>/<tool_call> convention Qwen models are trained on.
constexpr std::string_view kChatml = R"jinja({%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages and messages[0].role == 'system' %}
{{- messages[0].content ~ '\n\n' }}
{%- endif %}
{{- '# Tools\n\nFunction signatures are given inside <tools></tools>:\n<tools>' }}
{%- for tool in tools %}
{{- '\n' ~ (tool | tojson) }}
{%- endfor %}
{{- '\n</tools>\n\nTo call a function, reply with <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>\n' }}
{%- elif messages and messages[0].role == 'system' %}
{{- '<|im_start|>system\n' ~ messages[0].content ~ '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\n<tool_response>\n' ~ message.content ~ '\n</tool_response><|im_end|>\n' }}
{%- else %}
{{- '<|im_start|>' ~ message.role ~ '\n' }}
{%- if message.content is string %}{{ message.content }}{% endif %}
{%- for call in message.tool_calls | default([]) %}
{%- set fn = call.function if call.function is defined else call %}
{{- ('\n' if message.content or not loop.first else '') ~ '<tool_call>\n{"name": "' ~ fn.name ~ '", "arguments": ' }}
{{- fn.arguments if fn.arguments is string else fn.arguments | tojson }}
{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- endif %})jinja";

// DeepSeek-V2/V3/R1 layout: BOS, all system text first, then <｜User｜>/<｜Assistant｜>
// turns; an assistant turn's reasoning (before </think>) is dropped from history.
constexpr std::string_view kDeepseek = R"jinja({%- set ns = namespace(system='') %}
{%- for message in messages if message.role == 'system' %}
{%- set ns.system = ns.system ~ ('\n\n' if not loop.first else '') ~ message.content %}
{%- endfor %}
{{- bos_token | default('') }}{{ ns.system }}
{%- for message in messages %}
{%- if message.role == 'user' %}
{{- '<｜User｜>' ~ message.content }}
{%- elif message.role == 'assistant' %}
{%- set content = message.content if message.content is string else '' %}
{%- if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}
{{- '<｜Assistant｜>' ~ content ~ '<｜end▁of▁sentence｜>' }}
{%- elif message.role == 'tool' %}
{{- '<｜tool▁output▁begin｜>' ~ message.content ~ '<｜tool▁output▁end｜>' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<｜Assistant｜>' }}
{%- endif %})jinja";

}  // namespace

std::string_view builtin_chat_template(std::string_view name) {
  if (name == "chatml") return kChatml;
  if (name == "deepseek") return kDeepseek;
  throw Error("unknown built-in chat template '" + std::string(name) + "' (known: chatml, deepseek)");
}

std::string_view builtin_chat_template_for_architecture(std::string_view architecture) {
  return builtin_chat_template(architecture.rfind("deepseek", 0) == 0 ? "deepseek" : "chatml");
}

}  // namespace moxie
