#pragma once
// A reader for the part of TOML that run configs use, into JSON so the config code checks
// one tree: [table] and [[array.of.tables]] headers (dotted names), key = value pairs with
// bare or quoted keys, basic "strings" (with \" \\ \n \t \uXXXX escapes) and 'literal'
// strings, integers (with _ separators), floats, true/false, and one-line or multi-line
// arrays of those. Comments start with #. Not supported (an error naming the line): dates,
// inline tables, multi-line strings, dotted keys on the left of =.
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace moxie::eval {

// Throws moxie::Error "<source>:<line>: <what>" on anything it cannot read, including a
// key defined twice.
nlohmann::ordered_json parse_toml(std::string_view text, std::string_view source);

}  // namespace moxie::eval
