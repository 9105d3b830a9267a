#pragma once
// jinja2's tests: `x is defined`, `x is string`, `x is divisibleby 3`, ...
#include <string>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

using TestFn = bool (*)(const Value& subject, CallArgs& args);

// Null when there is no test of that name.
TestFn find_test(const std::string& name);

}  // namespace moxie::tmpl
