#pragma once
// Methods of str, dict and list that templates call (message.content.strip(),
// tool.get('x'), ...). Mutating methods exist but raise, as in jinja2's
// ImmutableSandboxedEnvironment that Hugging Face renders with.
#include <optional>
#include <string>
#include <string_view>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

// The bound method `obj.name`, or nullopt when the type has no such method.
std::optional<Value> find_method(const Value& obj, const std::string& name);

// Python's str.strip() family; `chars` null means whitespace.
std::string strip_chars(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) / rsplit; sep null splits on runs of whitespace.
std::vector<std::string> split_string(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right);
std::string ascii_upper(std::string s);
// str.upper()/str.lower() for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other
// scripts pass through unchanged.
std::string python_upper(const std::string& s);
std::string python_lower(const std::string& s);
bool is_python_whitespace(uint32_t cp);
bool is_word_char(uint32_t cp);  // regex \w, approximately: letters, digits, underscore
std::string ascii_lower(std::string s);
std::string python_title(const std::string& s);
std::string python_capitalize(const std::string& s);

}  // namespace moxie::tmpl
