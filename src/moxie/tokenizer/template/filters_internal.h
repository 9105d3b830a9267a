#pragma once
// Helpers shared by filters.cc and filters_sequence.cc.
#include <string>
#include <string_view>
#include <unordered_map>

#include "moxie/tokenizer/template/filters.h"

namespace moxie::tmpl {

// The argument at `position`, else the keyword `name`, else null.
const Value* filter_arg(const CallArgs& args, size_t position, std::string_view name);
bool filter_flag(const CallArgs& args, size_t position, std::string_view name, bool fallback);
void add_sequence_filters(std::unordered_map<std::string, FilterFn>& table);

}  // namespace moxie::tmpl
