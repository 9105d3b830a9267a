#include "moxie/server/toml_subset.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "moxie/core/error.h"

namespace moxie::server {
namespace {

// One line being read, with the position of the next character.
struct Cursor {
  std::string_view line;
  size_t pos = 0;
  int number = 0;
  std::string_view source;

  bool done() const { return pos >= line.size(); }
  char peek() const { return done() ? '\0' : line[pos]; }
  void skip_blanks() {
    while (!done() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(std::string(source) + ":" + std::to_string(number) + ": " + what);
  }
  // Nothing but blanks and an optional comment may follow.
  void expect_end(const char* after) {
    skip_blanks();
    if (!done() && peek() != '#') fail(std::string("unexpected text after ") + after + ": '" + std::string(line.substr(pos)) + "'");
  }
};

bool bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string read_bare_name(Cursor& c, const char* what) {
  const size_t start = c.pos;
  while (!c.done() && bare_key_char(c.peek())) ++c.pos;
  if (c.pos == start) c.fail(std::string("expected ") + what + " (letters, digits, _ or -)");
  return std::string(c.line.substr(start, c.pos - start));
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += char(cp);
  } else if (cp < 0x800) {
    *out += char(0xC0 | (cp >> 6));
    *out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += char(0xE0 | (cp >> 12));
    *out += char(0x80 | ((cp >> 6) & 0x3F));
    *out += char(0x80 | (cp & 0x3F));
  } else {
    *out += char(0xF0 | (cp >> 18));
    *out += char(0x80 | ((cp >> 12) & 0x3F));
    *out += char(0x80 | ((cp >> 6) & 0x3F));
    *out += char(0x80 | (cp & 0x3F));
  }
}

uint32_t read_unicode_escape(Cursor& c, int digits, const std::string& key) {
  if (c.pos + size_t(digits) > c.line.size()) c.fail("key '" + key + "': a \\u escape needs " + std::to_string(digits) + " hex digits");
  uint32_t cp = 0;
  for (int i = 0; i < digits; ++i) {
    const char h = c.line[c.pos++];
    const int v = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
    if (v < 0) c.fail("key '" + key + "': bad hex digit in a \\u escape");
    cp = cp * 16 + uint32_t(v);
  }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) c.fail("key '" + key + "': \\u escape is not a Unicode scalar value");
  return cp;
}

std::string read_basic_string(Cursor& c, const std::string& key) {
  ++c.pos;  // the opening quote
  std::string out;
  while (true) {
    if (c.done()) c.fail("key '" + key + "': the string is not closed on its line");
    const char ch = c.line[c.pos++];
    if (ch == '"') return out;
    if (ch != '\\') {
      if ((unsigned char)ch < 0x20 && ch != '\t') c.fail("key '" + key + "': control character in a string");
      out += ch;
      continue;
    }
    if (c.done()) c.fail("key '" + key + "': the string ends in a lone backslash");
    const char e = c.line[c.pos++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': append_utf8(read_unicode_escape(c, 4, key), &out); break;
      case 'U': append_utf8(read_unicode_escape(c, 8, key), &out); break;
      default: c.fail("key '" + key + "': unknown escape '\\" + std::string(1, e) + "'");
    }
  }
}

std::string read_literal_string(Cursor& c, const std::string& key) {
  ++c.pos;
  const size_t end = c.line.find('\'', c.pos);
  if (end == std::string_view::npos) c.fail("key '" + key + "': the string is not closed on its line");
  std::string out(c.line.substr(c.pos, end - c.pos));
  c.pos = end + 1;
  return out;
}

// Integers and floats: digits with single underscores between them, as TOML allows.
void read_number(Cursor& c, const std::string& key, TomlValue* v) {
  const size_t start = c.pos;
  while (!c.done() && c.peek() != ' ' && c.peek() != '\t' && c.peek() != '#') ++c.pos;
  const std::string token(c.line.substr(start, c.pos - start));
  std::string digits;
  bool is_float = false;
  for (size_t i = 0; i < token.size(); ++i) {
    const char ch = token[i];
    if (ch == '_') {
      const bool ok = i > 0 && i + 1 < token.size() && isdigit((unsigned char)token[i - 1]) && isdigit((unsigned char)token[i + 1]);
      if (!ok) c.fail("key '" + key + "': '" + token + "' is not a number (an underscore must sit between digits)");
      continue;
    }
    if (ch == '.' && !(i > 0 && i + 1 < token.size() && isdigit((unsigned char)token[i - 1]) &&
                       isdigit((unsigned char)token[i + 1])))
      c.fail("key '" + key + "': '" + token + "' is not a number (a decimal point needs digits on both sides)");
    if (ch == '.' || ch == 'e' || ch == 'E') is_float = true;
    else if (!isdigit((unsigned char)ch) && ch != '+' && ch != '-') c.fail("key '" + key + "': '" + token + "' is not a value this reader understands");
    digits += ch;
  }
  const size_t lead = (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
  if (digits.size() <= lead || !isdigit((unsigned char)digits[lead]))
    c.fail("key '" + key + "': '" + token + "' is not a number");
  if (!is_float && digits.size() > lead + 1 && digits[lead] == '0')
    c.fail("key '" + key + "': '" + token + "' has a leading zero");
  errno = 0;
  char* end = nullptr;
  if (is_float) {
    v->kind = TomlValue::Kind::floating;
    v->floating = std::strtod(digits.c_str(), &end);
  } else {
    v->kind = TomlValue::Kind::integer;
    v->integer = std::strtoll(digits.c_str(), &end, 10);
  }
  if (end != digits.c_str() + digits.size()) c.fail("key '" + key + "': '" + token + "' is not a number");
  if (errno == ERANGE) c.fail("key '" + key + "': '" + token + "' is out of range");
}

TomlValue read_value(Cursor& c, const std::string& key) {
  TomlValue v;
  v.line = c.number;
  c.skip_blanks();
  if (c.done() || c.peek() == '#') c.fail("key '" + key + "': a value is missing");
  const char first = c.peek();
  if (first == '"') {
    if (c.line.substr(c.pos, 3) == "\"\"\"") c.fail("key '" + key + "': multi-line strings are not supported");
    v.string = read_basic_string(c, key);
  } else if (first == '\'') {
    if (c.line.substr(c.pos, 3) == "'''") c.fail("key '" + key + "': multi-line strings are not supported");
    v.string = read_literal_string(c, key);
  } else if (first == '[' || first == '{') {
    c.fail("key '" + key + "': arrays and inline tables are not supported");
  } else if (c.line.substr(c.pos, 4) == "true" || c.line.substr(c.pos, 5) == "false") {
    v.kind = TomlValue::Kind::boolean;
    v.boolean = first == 't';
    c.pos += v.boolean ? 4 : 5;
  } else {
    read_number(c, key, &v);
  }
  c.expect_end(("the value of '" + key + "'").c_str());
  return v;
}

void read_header(Cursor& c, TomlDocument* doc, std::set<std::string>* plain_tables) {
  const bool array_item = c.line.substr(c.pos, 2) == "[[";
  c.pos += array_item ? 2 : 1;
  c.skip_blanks();
  const std::string name = read_bare_name(c, "a table name");
  c.skip_blanks();
  if (c.line.substr(c.pos, array_item ? 2 : 1) != (array_item ? "]]" : "]"))
    c.fail("table header '" + name + "' is not closed with " + (array_item ? "]]" : "]"));
  c.pos += array_item ? 2 : 1;
  c.expect_end("a table header");
  for (const TomlTable& t : doc->tables)
    if (t.name == name && t.array_item != array_item)
      c.fail("'" + name + "' is used both as [" + name + "] and [[" + name + "]]");
  if (!array_item && !plain_tables->insert(name).second) c.fail("table [" + name + "] is defined twice");
  if (doc->root.values.count(name)) c.fail("'" + name + "' is already a key of the top level");
  doc->tables.push_back(TomlTable{name, array_item, c.number, {}});
}

}  // namespace

const char* toml_kind_name(TomlValue::Kind kind) {
  switch (kind) {
    case TomlValue::Kind::string: return "a string";
    case TomlValue::Kind::integer: return "an integer";
    case TomlValue::Kind::floating: return "a float";
    case TomlValue::Kind::boolean: return "a boolean";
  }
  return "a value";
}

TomlDocument parse_toml_subset(std::string_view text, std::string_view source) {
  TomlDocument doc;
  std::set<std::string> plain_tables;
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = end + 1;
    Cursor c{line, 0, ++number, source};
    c.skip_blanks();
    if (c.done() || c.peek() == '#') continue;
    if (c.peek() == '[') {
      read_header(c, &doc, &plain_tables);
      continue;
    }
    if (c.peek() == '"' || c.peek() == '\'') c.fail("quoted keys are not supported");
    const std::string key = read_bare_name(c, "a key");
    c.skip_blanks();
    if (c.peek() == '.') c.fail("key '" + key + "': dotted keys are not supported");
    if (c.peek() != '=') c.fail("key '" + key + "': expected '=' after the key");
    ++c.pos;
    TomlTable& table = doc.tables.empty() ? doc.root : doc.tables.back();
    if (table.values.count(key)) c.fail("key '" + key + "' is given twice in the same table");
    table.values[key] = read_value(c, key);
  }
  return doc;
}

}  // namespace moxie::server
