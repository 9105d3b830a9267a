#include "moxie/tokenizer/template/py_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {
namespace {

void append_u_escape(std::string& out, uint32_t unit) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out += buf;
}

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    uint32_t cp = utf8_next(s, pos);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {  // UTF-16 surrogate pair, as Python writes it
        uint32_t v = cp - 0x10000;
        append_u_escape(out, 0xD800 | (v >> 10));
        append_u_escape(out, 0xDC00 | (v & 0x3FF));
      } else {
        append_u_escape(out, cp);
      }
    } else {
      out.append(s, start, pos - start);
    }
  }
  out += '"';
}

struct Dumper {
  const JsonDumpOptions& options;
  std::string item_sep;
  std::string key_sep;
  std::string out;

  void newline(int level) {
    if (!options.indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += *options.indent;
  }

  void dump(const Value& v, int level) {
    if (level > 512) throw EvalError("tojson: value nests too deeply");
    if (v.is_none()) out += "null";
    else if (v.is_bool()) out += v.as_bool() ? "true" : "false";
    else if (v.is_int()) out += std::to_string(v.as_int());
    else if (v.is_float()) dump_float(v.as_float());
    else if (v.is_string()) dump_string(out, v.as_string(), options.ensure_ascii);
    else if (v.is_list()) dump_list(*v.as_list(), level);
    else if (v.is_dict() && !v.as_dict()->is_namespace) dump_dict(*v.as_dict(), level);
    else throw EvalError("Object of type " + type_name(v) + " is not JSON serializable");
  }

  void dump_float(double d) {
    if (std::isnan(d)) out += "NaN";
    else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
    else out += python_float_repr(d);
  }

  void dump_list(const List& list, int level) {
    if (list.items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i) out += item_sep;
      newline(level + 1);
      dump(list.items[i], level + 1);
    }
    newline(level);
    out += ']';
  }

  void dump_dict(const Dict& dict, int level) {
    if (dict.entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    for (const auto& entry : dict.entries) entries.push_back(&entry);
    if (options.sort_keys)
      std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += item_sep;
      newline(level + 1);
      dump_string(out, entries[i]->first, options.ensure_ascii);
      out += key_sep;
      dump(entries[i]->second, level + 1);
    }
    newline(level);
    out += '}';
  }
};

}  // namespace

std::string python_json_dumps(const Value& v, const JsonDumpOptions& options) {
  Dumper dumper{options, options.indent ? "," : ", ", ": ", {}};
  if (options.separators) {
    dumper.item_sep = options.separators->first;
    dumper.key_sep = options.separators->second;
  }
  dumper.dump(v, 0);
  return std::move(dumper.out);
}

Value value_from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(None{});
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(value_from_json(item));
      return make_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value dict = make_dict();
      for (const auto& [key, item] : j.items()) dict.as_dict()->set(key, value_from_json(item));
      return dict;
    }
    default: return Value(None{});
  }
}

}  // namespace moxie::tmpl
