#pragma once
// jinja2's built-in filters that chat templates use, plus Hugging Face's tojson.
#include <string>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

class Interpreter;
using FilterFn = Value (*)(Value& subject, CallArgs& args, Interpreter& interp);

// Null when there is no filter of that name.
FilterFn find_filter(const std::string& name);

}  // namespace moxie::tmpl
