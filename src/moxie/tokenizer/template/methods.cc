#include "moxie/tokenizer/template/methods.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <functional>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {
namespace {

bool is_python_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

const std::string& str_arg(const CallArgs& args, size_t i, const char* method) {
  if (i >= args.positional.size() || !args.positional[i].is_string())
    throw EvalError(std::string("str.") + method + "() expects a string argument");
  return args.positional[i].as_string();
}

const std::string* optional_str_arg(const CallArgs& args, size_t i, const char* method) {
  if (i >= args.positional.size() || args.positional[i].is_none()) return nullptr;
  return &str_arg(args, i, method);
}

int64_t optional_int_arg(const CallArgs& args, size_t i, const char* name, int64_t fallback) {
  const Value* v = i < args.positional.size() ? &args.positional[i] : args.keyword_arg(name);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int()) throw EvalError(std::string("argument '") + name + "' must be an integer");
  return v->as_int();
}

Value unsafe_method(const Value& obj, const std::string& name) {
  std::string message = "access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe";
  return make_callable(name, [message](CallArgs&) -> Value { throw EvalError(message); });
}

// Python's str.format for {} {0} {name} fields without format specs.
std::string format_string(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') throw EvalError("single '}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw EvalError("single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!") != std::string::npos) throw EvalError("format specs in str.format are not supported");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t index = auto_index;
      if (field.empty()) {
        ++auto_index;
      } else if (std::from_chars(field.data(), field.data() + field.size(), index).ec != std::errc()) {
        throw EvalError("str.format: too many decimal digits in format string");  // Python's words
      }
      if (index >= args.positional.size()) throw EvalError("str.format: replacement index " + std::to_string(index) + " out of range");
      v = &args.positional[index];
    } else {
      v = args.keyword_arg(field);
      if (!v) throw EvalError("str.format: missing keyword argument '" + field + "'");
    }
    out += to_str(*v);
    i = close;
  }
  return out;
}

bool starts_or_ends(const std::string& s, const Value& arg, bool at_start) {
  std::vector<Value> candidates = arg.is_list() ? arg.as_list()->items : std::vector<Value>{arg};
  for (const Value& c : candidates) {
    if (!c.is_string()) throw EvalError(std::string(at_start ? "startswith" : "endswith") + " expects a string or tuple of strings");
    const std::string& p = c.as_string();
    if (p.size() > s.size()) continue;
    if (at_start ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0) return true;
  }
  return false;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  if (from.empty()) {  // Python inserts `to` between code points
    std::vector<size_t> offsets = utf8_offsets(s);
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (count < 0 || done++ < count) out += to;
      out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  while (count < 0 || done < count) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
    ++done;
  }
  return out + s.substr(pos);
}

std::optional<Value> string_method(const std::string& s, const std::string& name);
std::optional<Value> dict_method(const Value& obj, const std::string& name);
std::optional<Value> list_method(const Value& obj, const std::string& name);

}  // namespace

std::string strip_chars(std::string_view s, const std::string* chars, bool left, bool right) {
  auto strippable = [&](uint32_t cp) {
    if (!chars) return is_python_space(cp);
    for (size_t pos = 0; pos < chars->size();)
      if (utf8_next(*chars, pos) == cp) return true;
    return false;
  };
  std::vector<size_t> offsets = utf8_offsets(s);
  size_t begin = 0, end = offsets.size() - 1;
  auto cp_at = [&](size_t i) {
    size_t pos = offsets[i];
    return utf8_next(s, pos);
  };
  while (left && begin < end && strippable(cp_at(begin))) ++begin;
  while (right && end > begin && strippable(cp_at(end - 1))) --end;
  return std::string(s.substr(offsets[begin], offsets[end] - offsets[begin]));
}

std::vector<std::string> split_string(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right) {
  if (sep && sep->empty()) throw EvalError("empty separator");
  std::vector<std::string> parts;
  if (sep) {
    std::string rest = s;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t hit = from_right ? rest.rfind(*sep) : rest.find(*sep);
      if (hit == std::string::npos) break;
      if (from_right) {
        parts.push_back(rest.substr(hit + sep->size()));
        rest.resize(hit);
      } else {
        parts.push_back(rest.substr(0, hit));
        rest.erase(0, hit + sep->size());
      }
    }
    parts.push_back(rest);
    if (from_right) std::reverse(parts.begin(), parts.end());
    return parts;
  }
  // Whitespace split: runs of whitespace separate, ends are stripped, and once maxsplit
  // is reached the remainder is kept whole (stripped only on the side split from).
  std::string rest = strip_chars(s, nullptr, !from_right, from_right);
  while (!rest.empty()) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      parts.push_back(rest);
      break;
    }
    std::vector<size_t> offsets = utf8_offsets(rest);
    size_t n = offsets.size() - 1;
    auto is_space_at = [&](size_t i) {
      size_t pos = offsets[i];
      return is_python_space(utf8_next(rest, pos));
    };
    if (!from_right) {
      size_t i = 0;
      while (i < n && !is_space_at(i)) ++i;
      parts.push_back(rest.substr(0, offsets[i]));
      rest = strip_chars(rest.substr(offsets[i]), nullptr, true, false);
    } else {
      size_t i = n;
      while (i > 0 && !is_space_at(i - 1)) --i;
      parts.push_back(rest.substr(offsets[i]));
      rest = strip_chars(rest.substr(0, offsets[i]), nullptr, false, true);
    }
  }
  if (from_right) std::reverse(parts.begin(), parts.end());
  return parts;
}

bool is_python_whitespace(uint32_t cp) { return is_python_space(cp); }

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) || cp == '_';
  bool punctuation = (cp >= 0x80 && cp <= 0xBF && cp != 0xAA && cp != 0xB2 && cp != 0xB3 && cp != 0xB5 &&
                      cp != 0xB9 && cp != 0xBA && cp != 0xBC && cp != 0xBD && cp != 0xBE) ||
                     cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
                     (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2190 && cp <= 0x2BFF);
  return !punctuation;
}

namespace {
// Simple one-to-one case pairs: Latin-1, Latin Extended-A, Greek, Cyrillic.
uint32_t upper_of(uint32_t cp) {
  if (cp >= 'a' && cp <= 'z') return cp - 32;
  if ((cp >= 0xE0 && cp <= 0xFE && cp != 0xF7)) return cp - 0x20;
  if (cp == 0xFF) return 0x178;
  if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149 && cp != 0x178 && cp != 0x17F) {
    bool odd_is_lower = (cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177);
    if (odd_is_lower) return (cp & 1) ? cp - 1 : cp;
    return (cp & 1) ? cp : cp - 1;  // 0x139..0x148 and 0x179..0x17E pair the other way
  }
  if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 0x20;
  if (cp == 0x3C2) return 0x3A3;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 0x20;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 0x50;
  return cp;
}

uint32_t lower_of(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 0x20;
  if (cp == 0x178) return 0xFF;
  if (cp >= 0x100 && cp <= 0x17F && upper_of(cp) == cp && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149 &&
      cp != 0x17F) {
    uint32_t other = ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) ? cp + 1 : cp + 1;
    return upper_of(other) == cp ? other : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  return cp;
}
}  // namespace

std::string python_upper(const std::string& s) {
  std::string out;
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp = utf8_next(s, pos);
    if (cp == 0xDF) out += "SS";  // German sharp s upper-cases to two letters
    else utf8_append(out, upper_of(cp));
  }
  return out;
}

std::string python_lower(const std::string& s) {
  std::string out;
  for (size_t pos = 0; pos < s.size();) utf8_append(out, lower_of(utf8_next(s, pos)));
  return out;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string python_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool letter = std::isalpha(u) != 0;
    if (letter) c = static_cast<char>(prev_cased ? std::tolower(u) : std::toupper(u));
    prev_cased = letter || u >= 0x80;
  }
  return out;
}

std::string python_capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::optional<Value> find_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj.as_string(), name);
  if (obj.is_dict() && !obj.as_dict()->is_namespace) return dict_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  return std::nullopt;
}

namespace {

Value strings_to_list(const std::vector<std::string>& parts) {
  std::vector<Value> items(parts.begin(), parts.end());
  return make_list(std::move(items));
}

std::optional<Value> string_method(const std::string& s, const std::string& name) {
  using Fn = std::function<Value(CallArgs&)>;
  Fn fn;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip", right = name != "lstrip";
    fn = [s, left, right, name](CallArgs& a) { return Value(strip_chars(s, optional_str_arg(a, 0, name.c_str()), left, right)); };
  } else if (name == "split" || name == "rsplit") {
    bool from_right = name == "rsplit";
    fn = [s, from_right](CallArgs& a) {
      const Value* sep_kw = a.keyword_arg("sep");
      const std::string* sep = sep_kw && sep_kw->is_string() ? &sep_kw->as_string() : optional_str_arg(a, 0, "split");
      return strings_to_list(split_string(s, sep, optional_int_arg(a, 1, "maxsplit", -1), from_right));
    };
  } else if (name == "startswith" || name == "endswith") {
    bool at_start = name == "startswith";
    fn = [s, at_start](CallArgs& a) {
      if (a.positional.empty()) throw EvalError("startswith/endswith needs an argument");
      return Value(starts_or_ends(s, a.positional[0], at_start));
    };
  } else if (name == "replace") {
    fn = [s](CallArgs& a) {
      return Value(replace_all(s, str_arg(a, 0, "replace"), str_arg(a, 1, "replace"), optional_int_arg(a, 2, "count", -1)));
    };
  } else if (name == "upper") {
    fn = [s](CallArgs&) { return Value(python_upper(s)); };
  } else if (name == "lower") {
    fn = [s](CallArgs&) { return Value(python_lower(s)); };
  } else if (name == "title") {
    fn = [s](CallArgs&) { return Value(python_title(s)); };
  } else if (name == "capitalize") {
    fn = [s](CallArgs&) { return Value(python_capitalize(s)); };
  } else if (name == "format") {
    fn = [s](CallArgs& a) { return Value(format_string(s, a)); };
  } else if (name == "join") {
    fn = [s](CallArgs& a) {
      if (a.positional.empty()) throw EvalError("str.join() takes one argument");
      std::string out;
      bool first = true;
      for (const Value& v : iterate(a.positional[0])) {
        if (!v.is_string()) throw EvalError("sequence item: expected str instance, " + type_name(v) + " found");
        if (!first) out += s;
        out += v.as_string();
        first = false;
      }
      return Value(out);
    };
  } else if (name == "find" || name == "rfind" || name == "count") {
    fn = [s, name](CallArgs& a) {
      const std::string& needle = str_arg(a, 0, name.c_str());
      if (name == "count") {
        if (needle.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
        int64_t n = 0;
        for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + needle.size())) ++n;
        return Value(n);
      }
      size_t hit = name == "find" ? s.find(needle) : s.rfind(needle);
      return Value(hit == std::string::npos ? int64_t{-1} : static_cast<int64_t>(utf8_length(s.substr(0, hit))));
    };
  } else if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" || name == "isupper" ||
             name == "islower") {
    fn = [s, name](CallArgs&) {
      if (s.empty()) return Value(false);
      bool any_cased = false, ok = true;
      for (unsigned char c : s) {
        if (name == "isdigit") ok = ok && std::isdigit(c);
        else if (name == "isspace") ok = ok && is_python_space(c);
        else if (name == "isalpha") ok = ok && std::isalpha(c);
        else if (name == "isalnum") ok = ok && std::isalnum(c);
        else if (name == "isupper") ok = ok && !std::islower(c), any_cased = any_cased || std::isupper(c);
        else ok = ok && !std::isupper(c), any_cased = any_cased || std::islower(c);
      }
      bool needs_cased = name == "isupper" || name == "islower";
      return Value(ok && (!needs_cased || any_cased));
    };
  } else if (name == "splitlines") {
    fn = [s](CallArgs&) {
      std::vector<std::string> lines;
      size_t start = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\n' && s[i] != '\r') continue;
        lines.push_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
      if (start < s.size()) lines.push_back(s.substr(start));
      return strings_to_list(lines);
    };
  } else {
    return std::nullopt;
  }
  return make_callable("str." + name, std::move(fn));
}

std::optional<Value> dict_method(const Value& obj, const std::string& name) {
  DictPtr dict = obj.as_dict();
  if (name == "get") {
    return make_callable("dict.get", [dict](CallArgs& a) {
      if (a.positional.empty()) throw EvalError("dict.get() takes at least one argument");
      const Value* v = a.positional[0].is_string() ? dict->find(a.positional[0].as_string()) : nullptr;
      if (v) return *v;
      return a.positional.size() > 1 ? a.positional[1] : Value(None{});
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return make_callable("dict." + name, [dict, name](CallArgs&) {
      std::vector<Value> out;
      for (const auto& [key, value] : dict->entries) {
        if (name == "items") out.push_back(make_list({Value(key), value}, /*is_tuple=*/true));
        else out.push_back(name == "keys" ? Value(key) : value);
      }
      return make_list(std::move(out));
    });
  }
  if (name == "copy") {
    return make_callable("dict.copy", [dict](CallArgs&) {
      auto copy = std::make_shared<Dict>(*dict);
      return Value(std::move(copy));
    });
  }
  static const char* const mutators[] = {"update", "pop", "popitem", "setdefault", "clear"};
  for (const char* m : mutators)
    if (name == m) return unsafe_method(obj, name);
  return std::nullopt;
}

std::optional<Value> list_method(const Value& obj, const std::string& name) {
  ListPtr list = obj.as_list();
  if (name == "index" || name == "count") {
    return make_callable("list." + name, [list, name](CallArgs& a) {
      if (a.positional.empty()) throw EvalError("list." + name + "() takes one argument");
      int64_t n = 0;
      for (size_t i = 0; i < list->items.size(); ++i) {
        if (!equal(list->items[i], a.positional[0])) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++n;
      }
      if (name == "index") throw EvalError(repr(a.positional[0]) + " is not in list");
      return Value(n);
    });
  }
  static const char* const mutators[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
  for (const char* m : mutators)
    if (name == m && !list->is_tuple) return unsafe_method(obj, name);
  return std::nullopt;
}

}  // namespace
}  // namespace moxie::tmpl
