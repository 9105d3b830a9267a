// Scalar and string filters; the sequence filters (map, select, sort, ...) live in
// filters_sequence.cc. Signatures and defaults follow jinja2 3.1's filters.py.
#include "moxie/tokenizer/template/filters.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/filters_internal.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/methods.h"
#include "moxie/tokenizer/template/py_json.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {

const Value* filter_arg(const CallArgs& args, size_t position, std::string_view name) {
  if (position < args.positional.size()) return &args.positional[position];
  return args.keyword_arg(name);
}

bool filter_flag(const CallArgs& args, size_t position, std::string_view name, bool fallback) {
  const Value* v = filter_arg(args, position, name);
  return v ? truthy(*v) : fallback;
}

namespace {

Value f_length(Value& v, CallArgs&, Interpreter&) {
  if (v.is_undefined()) return Value(int64_t{0});
  if (v.is_string()) return Value(static_cast<int64_t>(utf8_length(v.as_string())));
  if (v.is_list()) return Value(static_cast<int64_t>(v.as_list()->items.size()));
  if (v.is_dict()) return Value(static_cast<int64_t>(v.as_dict()->entries.size()));
  throw EvalError("object of type '" + type_name(v) + "' has no len()");
}

Value f_trim(Value& v, CallArgs& a, Interpreter&) {
  const Value* chars = filter_arg(a, 0, "chars");
  const std::string* set = chars && chars->is_string() ? &chars->as_string() : nullptr;
  return Value(strip_chars(to_str(v), set, true, true));
}

Value f_string(Value& v, CallArgs&, Interpreter&) { return Value(to_str(v)); }
Value f_lower(Value& v, CallArgs&, Interpreter&) { return Value(python_lower(to_str(v))); }
Value f_upper(Value& v, CallArgs&, Interpreter&) { return Value(python_upper(to_str(v))); }
// jinja2's title filter (not str.title): chunks split at whitespace and "-({[<" get their
// first character upper-cased and the rest lower-cased.
Value f_title(Value& v, CallArgs&, Interpreter&) {
  std::string s = to_str(v), out;
  bool at_word_start = true;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    uint32_t cp = utf8_next(s, pos);
    std::string ch = s.substr(start, pos - start);
    bool separator = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_python_whitespace(cp);
    out += separator ? ch : at_word_start ? python_upper(ch) : python_lower(ch);
    at_word_start = separator;
  }
  return Value(out);
}
Value f_capitalize(Value& v, CallArgs&, Interpreter&) { return Value(python_capitalize(to_str(v))); }
Value f_safe(Value& v, CallArgs&, Interpreter&) { return v; }

Value f_replace(Value& v, CallArgs& a, Interpreter&) {
  const Value* old_v = filter_arg(a, 0, "old");
  const Value* new_v = filter_arg(a, 1, "new");
  if (!old_v || !new_v) throw EvalError("replace filter needs old and new strings");
  CallArgs method_args;
  method_args.positional = {Value(to_str(*old_v)), Value(to_str(*new_v))};
  if (const Value* count = filter_arg(a, 2, "count"); count && !count->is_none()) method_args.positional.push_back(*count);
  return (*find_method(Value(to_str(v)), "replace")).as_callable()->call(method_args);
}

Value f_escape(Value& v, CallArgs&, Interpreter&) {
  std::string out;
  for (char c : to_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(out);
}

Value f_default(Value& v, CallArgs& a, Interpreter&) {
  const Value* fallback = filter_arg(a, 0, "default_value");
  bool boolean = filter_flag(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !truthy(v))) return fallback ? *fallback : Value("");
  return v;
}

// HF's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Value& v, CallArgs& a, Interpreter&) {
  JsonDumpOptions options;
  options.ensure_ascii = filter_flag(a, 0, "ensure_ascii", false);
  if (const Value* indent = filter_arg(a, 1, "indent"); indent && !indent->is_none()) {
    if (indent->is_string()) options.indent = indent->as_string();
    else if (indent->is_int()) options.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent->as_int())), ' ');
    else throw EvalError("tojson indent must be an integer or a string");
  }
  if (const Value* seps = filter_arg(a, 2, "separators"); seps && !seps->is_none()) {
    if (!seps->is_list() || seps->as_list()->items.size() != 2 || !seps->as_list()->items[0].is_string() ||
        !seps->as_list()->items[1].is_string())
      throw EvalError("tojson separators must be a pair of strings");
    options.separators = std::make_pair(seps->as_list()->items[0].as_string(), seps->as_list()->items[1].as_string());
  }
  options.sort_keys = filter_flag(a, 3, "sort_keys", false);
  return Value(python_json_dumps(v, options));
}

// Python's int(): optional sign and surrounding whitespace, underscores between digits.
std::optional<int64_t> parse_python_int(std::string s, int base) {
  s = strip_chars(s, nullptr, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != '_' || (i > 0 && i + 1 < s.size())) digits += s[i];
  if (digits.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(digits.c_str(), &end, base);
  if (errno || *end || digits.find_first_of(" \t\n") != std::string::npos) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> parse_python_float(const std::string& text) {
  std::string s = strip_chars(text, nullptr, true, true);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (*end) return std::nullopt;
  return d;
}

Value f_int(Value& v, CallArgs& a, Interpreter&) {
  const Value* fallback = filter_arg(a, 0, "default");
  Value def = fallback ? *fallback : Value(int64_t{0});
  const Value* base_v = filter_arg(a, 1, "base");
  int base = base_v && base_v->is_int() ? static_cast<int>(base_v->as_int()) : 10;
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float()) return std::isfinite(v.as_float()) ? Value(static_cast<int64_t>(v.as_float())) : def;
  if (v.is_string()) {
    if (auto i = parse_python_int(v.as_string(), base)) return Value(*i);
    if (auto d = parse_python_float(v.as_string()); d && std::isfinite(*d)) return Value(static_cast<int64_t>(*d));
  }
  return def;
}

Value f_float(Value& v, CallArgs& a, Interpreter&) {
  const Value* fallback = filter_arg(a, 0, "default");
  Value def = fallback ? *fallback : Value(0.0);
  if (v.is_float()) return v;
  if (v.is_int() || v.is_bool()) return Value(v.is_bool() ? double(v.as_bool()) : static_cast<double>(v.as_int()));
  if (v.is_string())
    if (auto d = parse_python_float(v.as_string())) return Value(*d);
  return def;
}

Value f_abs(Value& v, CallArgs&, Interpreter&) {
  if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  throw EvalError("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_round(Value& v, CallArgs& a, Interpreter&) {
  if (!v.is_number()) throw EvalError("round filter needs a number, got '" + type_name(v) + "'");
  const Value* p = filter_arg(a, 0, "precision");
  int64_t precision = p && p->is_int() ? p->as_int() : 0;
  const Value* m = filter_arg(a, 1, "method");
  std::string method = m && m->is_string() ? m->as_string() : "common";
  double x = v.is_float() ? v.as_float() : v.is_int() ? static_cast<double>(v.as_int()) : double(v.as_bool());
  double scale = std::pow(10.0, static_cast<double>(precision));
  double r;
  if (method == "common" && precision > 0 && precision < 300) {
    // Python rounds the exact binary value in decimal (round(2.675, 2) == 2.67), as printf does.
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), x);
    r = std::strtod(buf, nullptr);
  } else if (method == "common") {
    r = std::nearbyint(x * scale) / scale;  // ties to even, like Python's round
  }
  else if (method == "ceil") r = std::ceil(x * scale) / scale;
  else if (method == "floor") r = std::floor(x * scale) / scale;
  else throw EvalError("round method must be 'common', 'ceil' or 'floor'");
  return Value(r);
}

// jinja2's indent: lines after the first get `width` (spaces or a string); blank lines
// only with blank=True; the first line only with first=True.
Value f_indent(Value& v, CallArgs& a, Interpreter&) {
  const Value* w = filter_arg(a, 0, "width");
  std::string indention = !w ? std::string(4, ' ') : w->is_string() ? w->as_string()
                                                   : std::string(static_cast<size_t>(std::max<int64_t>(0, w->is_int() ? w->as_int() : 4)), ' ');
  bool first = filter_flag(a, 1, "first", false);
  bool blank = filter_flag(a, 2, "blank", false);
  std::string s = to_str(v) + "\n";
  std::vector<std::string> lines;
  CallArgs none;
  Value split = (*find_method(Value(s), "splitlines")).as_callable()->call(none);
  for (const Value& line : split.as_list()->items) lines.push_back(line.as_string());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    bool indent_line = i > 0 && (blank || !lines[i].empty());
    out += (indent_line ? indention : "") + lines[i];
  }
  return Value(first ? indention + out : out);
}

Value f_center(Value& v, CallArgs& a, Interpreter&) {
  const Value* w = filter_arg(a, 0, "width");
  int64_t width = w && w->is_int() ? w->as_int() : 80;
  std::string s = to_str(v);
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value(s);
  int64_t pad = width - len;
  int64_t left = pad / 2 + (pad & width & 1);  // CPython's centering rule
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
}

// Runs of word characters (regex \w+), as jinja2 counts words.
Value f_wordcount(Value& v, CallArgs&, Interpreter&) {
  std::string s = to_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    bool word = is_word_char(utf8_next(s, pos));
    words += word && !in_word;
    in_word = word;
  }
  return Value(words);
}

Value f_attr(Value& v, CallArgs& a, Interpreter&) {
  const Value* name = filter_arg(a, 0, "name");
  if (!name || !name->is_string()) throw EvalError("attr filter needs an attribute name");
  if (v.is_undefined()) throw EvalError(v.undefined_hint());
  return get_attribute(v, name->as_string());
}

const std::unordered_map<std::string, FilterFn>& filter_table() {
  static const std::unordered_map<std::string, FilterFn> table = [] {
    std::unordered_map<std::string, FilterFn> t = {
        {"length", f_length}, {"count", f_length},   {"trim", f_trim},       {"string", f_string},
        {"lower", f_lower},   {"upper", f_upper},    {"title", f_title},     {"capitalize", f_capitalize},
        {"safe", f_safe},     {"replace", f_replace}, {"escape", f_escape},  {"e", f_escape},
        {"default", f_default}, {"d", f_default},    {"tojson", f_tojson},   {"int", f_int},
        {"float", f_float},   {"abs", f_abs},        {"round", f_round},     {"indent", f_indent},
        {"center", f_center}, {"wordcount", f_wordcount}, {"attr", f_attr},
    };
    add_sequence_filters(t);
    return t;
  }();
  return table;
}

}  // namespace

FilterFn find_filter(const std::string& name) {
  auto it = filter_table().find(name);
  return it == filter_table().end() ? nullptr : it->second;
}

}  // namespace moxie::tmpl
