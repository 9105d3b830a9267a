#pragma once
// Python's json.dumps, as Hugging Face's tojson filter calls it (ensure_ascii=False by
// default, optional indent, separators and sort_keys), and conversion from JSON input.
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // null: one line
  std::optional<std::pair<std::string, std::string>> separators;  // (item, key); default depends on indent
  bool sort_keys = false;
};

std::string python_json_dumps(const Value& v, const JsonDumpOptions& options);

// JSON to template values, keeping object key order (as Python's json.loads does).
Value value_from_json(const nlohmann::ordered_json& j);

}  // namespace moxie::tmpl
