#pragma once
// Global functions every chat template can call: range, namespace, dict, and Hugging
// Face's raise_exception and strftime_now.
#include <string>
#include <unordered_map>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

void add_globals(std::unordered_map<std::string, Value>& vars);

}  // namespace moxie::tmpl
