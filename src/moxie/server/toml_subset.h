#pragma once
// A reader for the small part of TOML (https://toml.io/en/v1.0.0) that models.toml uses:
//
//   # comments, to the end of a line
//   [table]  and  [[array_of_tables]]      (bare names: A-Z a-z 0-9 _ -)
//   key = "basic string" | 'literal string' | 123 | -4_000 | 1.5 | 2e3 | true | false
//
// Not supported, and refused with an error rather than misread: arrays, inline tables,
// dotted or quoted keys, multi-line strings, dates, inf/nan, hex/octal/binary integers.
// Every error names the source, its line and, where there is one, the key.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace moxie::server {

struct TomlValue {
  enum class Kind { string, integer, floating, boolean };
  Kind kind = Kind::string;
  std::string string;
  int64_t integer = 0;
  double floating = 0;
  bool boolean = false;
  int line = 0;  // 1-based
};

struct TomlTable {
  std::string name;          // "" for the top level
  bool array_item = false;   // declared with [[name]]
  int line = 0;              // of its header
  std::map<std::string, TomlValue> values;
};

struct TomlDocument {
  TomlTable root;                 // keys before the first header
  std::vector<TomlTable> tables;  // in file order
};

// Throws moxie::Error "<source>:<line>: ..." on anything outside the subset.
TomlDocument parse_toml_subset(std::string_view text, std::string_view source);

const char* toml_kind_name(TomlValue::Kind kind);

}  // namespace moxie::server
