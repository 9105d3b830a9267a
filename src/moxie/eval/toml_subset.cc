#include "moxie/eval/toml_subset.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie::eval {
namespace {

using nlohmann::ordered_json;

// A cursor over the whole text that knows its line for error messages.
class Reader {
 public:
  Reader(std::string_view text, std::string_view source) : s_(text), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(std::string(source_) + ":" + std::to_string(line_) + ": " + what);
  }
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  char next() {
    const char c = s_[i_++];
    if (c == '\n') ++line_;
    return c;
  }
  // Spaces and tabs; with newlines, also line breaks and comments (inside arrays).
  void skip_blank(bool newlines) {
    while (!done()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        next();
      } else if (c == '#') {
        while (!done() && peek() != '\n') next();
      } else if (newlines && c == '\n') {
        next();
      } else {
        break;
      }
    }
  }
  void end_of_line() {
    skip_blank(false);
    if (!done() && next() != '\n') fail("expected the end of the line");
  }
  void expect(char c) {
    if (done() || peek() != c) fail(std::string("expected '") + c + "'");
    next();
  }

  std::string key() {
    skip_blank(false);
    if (peek() == '"' || peek() == '\'') return string_value();
    std::string k;
    while (!done() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')) k += next();
    if (k.empty()) fail("expected a key");
    return k;
  }

  std::string string_value() {
    const char quote = next();
    std::string out;
    while (true) {
      if (done() || peek() == '\n') fail("unterminated string");
      const char c = next();
      if (c == quote) return out;
      if (c == '\\' && quote == '"') {
        escape(out);
      } else {
        out += c;
      }
    }
  }

  ordered_json value() {
    skip_blank(false);
    const char c = peek();
    if (c == '"' || c == '\'') return string_value();
    if (c == '[') return array();
    if (c == '{') fail("inline tables are not supported; use a [table]");
    std::string word;
    while (!done() && !std::isspace(static_cast<unsigned char>(peek())) && peek() != ',' && peek() != ']' &&
           peek() != '#')
      word += next();
    return scalar(word);
  }

 private:
  void escape(std::string& out) {
    if (done()) fail("unterminated string");
    const char e = next();
    switch (e) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case 'n': out += '\n'; return;
      case 't': out += '\t'; return;
      case 'r': out += '\r'; return;
      case 'u': unicode_escape(out); return;
      default: fail(std::string("unknown escape \\") + e);
    }
  }
  void unicode_escape(std::string& out) {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    const std::string hex(s_.substr(i_, 4));
    char* end = nullptr;
    const unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
    if (end != hex.c_str() + 4) fail("bad \\u escape");
    i_ += 4;
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  ordered_json array() {
    next();  // [
    ordered_json a = ordered_json::array();
    while (true) {
      skip_blank(true);
      if (peek() == ']') break;
      a.push_back(value());
      skip_blank(true);
      if (peek() == ',') {
        next();
        continue;
      }
      if (peek() != ']') fail("expected ',' or ']' in an array");
    }
    next();  // ]
    return a;
  }
  ordered_json scalar(const std::string& word) {
    if (word == "true") return true;
    if (word == "false") return false;
    if (word.empty()) fail("expected a value");
    std::string digits;
    for (char c : word)
      if (c != '_') digits += c;
    errno = 0;
    char* end = nullptr;
    const bool is_float = digits.find_first_of(".eE") != std::string::npos && digits.find_first_of("xob") == std::string::npos;
    if (!is_float) {
      const long long v = std::strtoll(digits.c_str(), &end, 10);
      if (*end == '\0' && errno == 0) return int64_t(v);
    } else {
      const double v = std::strtod(digits.c_str(), &end);
      if (*end == '\0' && errno == 0) return v;
    }
    fail("cannot read value '" + word + "' (strings need quotes; dates are not supported)");
  }

  std::string_view s_;
  std::string_view source_;
  size_t i_ = 0;
  int line_ = 1;
};

// The table a [a.b] or [[a.b]] header names, created on the way.
ordered_json* open_table(ordered_json& root, const std::vector<std::string>& path, bool array_item, Reader& r) {
  ordered_json* t = &root;
  for (size_t k = 0; k < path.size(); ++k) {
    ordered_json& slot = (*t)[path[k]];
    const bool last = k + 1 == path.size();
    if (last && array_item) {
      if (slot.is_null()) slot = ordered_json::array();
      if (!slot.is_array()) r.fail("'" + path[k] + "' is already a table, not an array of tables");
      slot.push_back(ordered_json::object());
      return &slot.back();
    }
    if (slot.is_null()) slot = ordered_json::object();
    if (slot.is_array() && !slot.empty() && slot.back().is_object()) {
      t = &slot.back();  // [[a]] then [a.b]: b belongs to the last a
    } else if (slot.is_object()) {
      t = &slot;
    } else {
      r.fail("'" + path[k] + "' is not a table");
    }
  }
  return t;
}

std::vector<std::string> header_path(Reader& r) {
  std::vector<std::string> path{r.key()};
  r.skip_blank(false);
  while (r.peek() == '.') {
    r.next();
    path.push_back(r.key());
    r.skip_blank(false);
  }
  return path;
}

}  // namespace

nlohmann::ordered_json parse_toml(std::string_view text, std::string_view source) {
  Reader r(text, source);
  ordered_json root = ordered_json::object();
  ordered_json* table = &root;
  while (true) {
    r.skip_blank(true);
    if (r.done()) break;
    if (r.peek() == '[') {
      r.next();
      const bool array_item = r.peek() == '[';
      if (array_item) r.next();
      const std::vector<std::string> path = header_path(r);
      r.expect(']');
      if (array_item) r.expect(']');
      table = open_table(root, path, array_item, r);
      r.end_of_line();
      continue;
    }
    const std::string k = r.key();
    r.skip_blank(false);
    if (r.peek() == '.') r.fail("dotted keys are not supported; use a [table] header");
    r.expect('=');
    if (table->contains(k)) r.fail("key '" + k + "' defined twice");
    (*table)[k] = r.value();
    r.end_of_line();
  }
  return root;
}

}  // namespace moxie::eval
