// Filters over sequences: first, last, join, map, select/reject(attr), list, reverse,
// items, unique, sort, dictsort, sum, min, max. Lazy jinja2 generators become lists.
#include <algorithm>
#include <charconv>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/filters_internal.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/methods.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {
namespace {

// jinja2's attribute= paths: "a.b.0" walks items (then attributes) one part at a time.
Value get_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_undefined()) return cur;
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (numeric) {
      int64_t index = 0;
      // An index past int64 fits no sequence or key: undefined, as jinja2's IndexError gives.
      if (std::from_chars(part.data(), part.data() + part.size(), index).ec != std::errc()) {
        return Value::undefined("index " + part + " is out of range");
      }
      cur = get_item(cur, Value(index));
    } else {
      cur = get_item(cur, Value(part));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

std::string attribute_arg(const CallArgs& a, size_t position) {
  const Value* attr = filter_arg(a, position, "attribute");
  if (!attr || attr->is_none()) return "";
  if (attr->is_int()) return std::to_string(attr->as_int());
  if (!attr->is_string()) throw EvalError("attribute must be a string");
  return attr->as_string();
}

Value f_first(Value& v, CallArgs&, Interpreter&) {
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Value& v, CallArgs&, Interpreter&) {
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_join(Value& v, CallArgs& a, Interpreter& interp) {
  const Value* sep = filter_arg(a, 0, "d");
  std::string separator = sep ? to_str(*sep) : "";
  std::string attribute = attribute_arg(a, 1);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += separator;
    out += to_str(attribute.empty() ? item : get_path(item, attribute));
    interp.check_string_size(out.size());
    first = false;
  }
  return Value(out);
}

// map(attribute='x', default=d) or map('filter', args...)
Value f_map(Value& v, CallArgs& a, Interpreter& interp) {
  std::vector<Value> out;
  const Value* attr = a.keyword_arg("attribute");
  if (attr) {
    std::string path = attribute_arg(a, 99);
    const Value* fallback = a.keyword_arg("default");
    for (const Value& item : iterate(v)) {
      Value got = get_path(item, path);
      out.push_back(got.is_undefined() && fallback ? *fallback : got);
    }
    return make_list(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string()) throw EvalError("map needs a filter name or attribute=");
  std::string filter = a.positional[0].as_string();
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : iterate(v)) {
    CallArgs args = rest;
    out.push_back(interp.call_filter(filter, item, args));
  }
  return make_list(std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attr, test, args...); without
// a test, the item (or attribute) itself is tested for truth.
Value select_impl(Value& v, CallArgs& a, Interpreter& interp, bool by_attribute, bool keep_matching) {
  size_t next = 0;
  std::string path;
  if (by_attribute) {
    if (a.positional.empty() || !a.positional[0].is_string()) throw EvalError("selectattr/rejectattr need an attribute name");
    path = a.positional[0].as_string();
    next = 1;
  }
  std::string test;
  if (next < a.positional.size()) {
    if (!a.positional[next].is_string()) throw EvalError("the test name must be a string");
    test = a.positional[next++].as_string();
  }
  CallArgs test_args;
  test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(std::min(next, a.positional.size())),
                              a.positional.end());
  std::vector<Value> out;
  for (const Value& item : iterate(v)) {
    Value subject = by_attribute ? get_path(item, path) : item;
    CallArgs args = test_args;
    bool match = test.empty() ? truthy(subject) : interp.call_test(test, subject, args);
    if (match == keep_matching) out.push_back(item);
  }
  return make_list(std::move(out));
}

Value f_select(Value& v, CallArgs& a, Interpreter& i) { return select_impl(v, a, i, false, true); }
Value f_reject(Value& v, CallArgs& a, Interpreter& i) { return select_impl(v, a, i, false, false); }
Value f_selectattr(Value& v, CallArgs& a, Interpreter& i) { return select_impl(v, a, i, true, true); }
Value f_rejectattr(Value& v, CallArgs& a, Interpreter& i) { return select_impl(v, a, i, true, false); }

Value f_list(Value& v, CallArgs&, Interpreter&) { return make_list(iterate(v)); }

Value f_reverse(Value& v, CallArgs&, Interpreter&) {
  if (v.is_string()) return slice_value(v, Value(None{}), Value(None{}), Value(int64_t{-1}));
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return make_list(std::move(items));
}

Value dict_items(const Value& v) {
  if (v.is_undefined()) return make_list();
  if (!v.is_dict() || v.as_dict()->is_namespace) throw EvalError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [key, value] : v.as_dict()->entries) out.push_back(make_list({Value(key), value}, true));
  return make_list(std::move(out));
}

Value f_items(Value& v, CallArgs&, Interpreter&) { return dict_items(v); }

// The key jinja2 sorts and compares by: the attribute if given, lower-cased strings
// unless case_sensitive.
Value sort_key(const Value& item, const std::string& path, bool case_sensitive) {
  Value key = path.empty() ? item : get_path(item, path);
  if (!case_sensitive && key.is_string()) return Value(ascii_lower(key.as_string()));
  return key;
}

Value f_sort(Value& v, CallArgs& a, Interpreter&) {
  bool reverse = filter_flag(a, 0, "reverse", false);
  bool case_sensitive = filter_flag(a, 1, "case_sensitive", false);
  std::string path = attribute_arg(a, 2);
  std::vector<Value> items = iterate(v);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    Value kx = sort_key(x, path, case_sensitive), ky = sort_key(y, path, case_sensitive);
    return reverse ? less(ky, kx) : less(kx, ky);
  });
  return make_list(std::move(items));
}

Value f_dictsort(Value& v, CallArgs& a, Interpreter&) {
  bool case_sensitive = filter_flag(a, 0, "case_sensitive", false);
  const Value* by = filter_arg(a, 1, "by");
  bool by_value = by && by->is_string() && by->as_string() == "value";
  bool reverse = filter_flag(a, 2, "reverse", false);
  Value pairs = dict_items(v);
  std::vector<Value> items = pairs.as_list()->items;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    Value kx = sort_key(x.as_list()->items[by_value], "", case_sensitive);
    Value ky = sort_key(y.as_list()->items[by_value], "", case_sensitive);
    return reverse ? less(ky, kx) : less(kx, ky);
  });
  return make_list(std::move(items));
}

Value f_unique(Value& v, CallArgs& a, Interpreter&) {
  bool case_sensitive = filter_flag(a, 0, "case_sensitive", false);
  std::string path = attribute_arg(a, 1);
  std::vector<Value> out, seen;
  for (const Value& item : iterate(v)) {
    Value key = sort_key(item, path, case_sensitive);
    bool dup = false;
    for (const Value& s : seen) dup = dup || equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return make_list(std::move(out));
}

Value f_sum(Value& v, CallArgs& a, Interpreter& interp) {
  std::string path = attribute_arg(a, 0);
  const Value* start = filter_arg(a, 1, "start");
  Value total = start ? *start : Value(int64_t{0});
  for (const Value& item : iterate(v))
    total = binary_op("+", total, path.empty() ? item : get_path(item, path), interp.limits().max_output_bytes);
  return total;
}

Value min_max(Value& v, CallArgs& a, bool want_max) {
  bool case_sensitive = filter_flag(a, 0, "case_sensitive", false);
  std::string path = attribute_arg(a, 1);
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  Value best = items[0];
  for (size_t i = 1; i < items.size(); ++i) {
    Value kb = sort_key(best, path, case_sensitive), ki = sort_key(items[i], path, case_sensitive);
    if (want_max ? less(kb, ki) : less(ki, kb)) best = items[i];
  }
  return best;
}

Value f_min(Value& v, CallArgs& a, Interpreter&) { return min_max(v, a, false); }
Value f_max(Value& v, CallArgs& a, Interpreter&) { return min_max(v, a, true); }

}  // namespace

void add_sequence_filters(std::unordered_map<std::string, FilterFn>& table) {
  table.insert({{"first", f_first}, {"last", f_last}, {"join", f_join}, {"map", f_map},
                {"select", f_select}, {"reject", f_reject}, {"selectattr", f_selectattr},
                {"rejectattr", f_rejectattr}, {"list", f_list}, {"reverse", f_reverse},
                {"items", f_items}, {"sort", f_sort}, {"dictsort", f_dictsort}, {"unique", f_unique},
                {"sum", f_sum}, {"min", f_min}, {"max", f_max}});
}

}  // namespace moxie::tmpl
