// Python semantics of attribute/item access, slicing, arithmetic and membership, as
// jinja2's sandbox applies them to the JSON-shaped data chat templates see.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/methods.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {
namespace {

std::string object_name(const Value& v) { return std::string("'").append(type_name(v)).append(" object'"); }

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw EvalError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

double as_double(const Value& v) {
  if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
  if (v.is_int()) return static_cast<double>(v.as_int());
  return v.as_float();
}

int64_t as_int64(const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value int_arith(const std::string& op, int64_t a, int64_t b) {
  int64_t r = 0;
  bool overflow = false;
  if (op == "+") overflow = __builtin_add_overflow(a, b, &r);
  else if (op == "-") overflow = __builtin_sub_overflow(a, b, &r);
  else if (op == "*") overflow = __builtin_mul_overflow(a, b, &r);
  else if (op == "//" || op == "%") {
    if (b == 0) throw EvalError("integer division or modulo by zero");
    if (a == std::numeric_limits<int64_t>::min() && b == -1) overflow = true;
    else r = op == "//" ? floor_div(a, b) : a - floor_div(a, b) * b;
  } else if (op == "**") {
    if (b < 0) return Value(std::pow(static_cast<double>(a), static_cast<double>(b)));
    r = 1;
    for (int64_t i = 0; i < b && !overflow; ++i) overflow = __builtin_mul_overflow(r, a, &r);
  }
  if (overflow) throw EvalError("integer overflow in '" + op + "' (moxie integers are 64-bit)");
  return Value(r);
}

Value float_arith(const std::string& op, double a, double b) {
  if (op == "+") return Value(a + b);
  if (op == "-") return Value(a - b);
  if (op == "*") return Value(a * b);
  if (op == "/") {
    if (b == 0) throw EvalError("division by zero");
    return Value(a / b);
  }
  if (op == "//" || op == "%") {
    if (b == 0) throw EvalError("float division by zero");
    double q = std::floor(a / b);
    return Value(op == "//" ? q : a - q * b);
  }
  return Value(std::pow(a, b));
}

Value repeat(const Value& seq, int64_t times, size_t max_bytes) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    if (times > 0 && seq.as_string().size() * static_cast<size_t>(times) > max_bytes)
      throw EvalError("string repetition exceeds " + std::to_string(max_bytes) + " bytes");
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  const auto& items = seq.as_list()->items;
  if (times > 0 && items.size() * static_cast<size_t>(times) > max_bytes)
    throw EvalError("list repetition is too large");
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return make_list(std::move(out), seq.as_list()->is_tuple);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_bytes) {
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    if (s.size() > max_bytes) throw EvalError("string exceeds " + std::to_string(max_bytes) + " bytes");
    return Value(std::move(s));
  }
  if (a.is_undefined()) throw EvalError(a.undefined_hint());
  if (b.is_undefined()) throw EvalError(b.undefined_hint());
  if (a.is_number() && b.is_number()) {
    if (op != "/" && !a.is_float() && !b.is_float()) return int_arith(op, as_int64(a), as_int64(b));
    return float_arith(op, as_double(a), as_double(b));
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.as_string().size() + b.as_string().size() > max_bytes) throw EvalError("string exceeds the size limit");
    return Value(a.as_string() + b.as_string());
  }
  if (op == "+" && a.is_list() && b.is_list() && a.as_list()->is_tuple == b.as_list()->is_tuple) {
    std::vector<Value> items = a.as_list()->items;
    items.insert(items.end(), b.as_list()->items.begin(), b.as_list()->items.end());
    return make_list(std::move(items), a.as_list()->is_tuple);
  }
  if (op == "*" && (a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, as_int64(b), max_bytes);
  if (op == "*" && (b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, as_int64(a), max_bytes);
  unsupported(op, a, b);
}

Value get_attribute(const Value& obj, const std::string& name) {
  if (obj.is_dict() && obj.as_dict()->is_namespace) {
    const Value* v = obj.as_dict()->find(name);
    return v ? *v : Value::undefined("'Namespace object' has no attribute '" + name + "'");
  }
  // Python's getattr comes first: dict.items is the method even if the dict has "items".
  if (auto method = find_method(obj, name)) return *method;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict()->find(name)) return *v;
  }
  return Value::undefined(object_name(obj) + " has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict()->find(key.as_string())) return *v;
    return get_attribute(obj, key.as_string());
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = as_int64(key);
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.as_list()->items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined(object_name(obj) + " has no element " + std::to_string(as_int64(key)));
      return obj.as_list()->items[static_cast<size_t>(i)];
    }
    std::vector<size_t> offsets = utf8_offsets(obj.as_string());
    int64_t n = static_cast<int64_t>(offsets.size()) - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined(object_name(obj) + " has no element " + std::to_string(as_int64(key)));
    return Value(obj.as_string().substr(offsets[i], offsets[i + 1] - offsets[i]));
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return Value::undefined(object_name(obj) + " has no element " + repr(key));
}

// Python slice semantics (clamping, negative indexes, negative steps) over code points
// for strings and items for lists/tuples.
Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto index_or = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) throw EvalError(std::string("slice ") + what + " must be an integer or none");
    return as_int64(v);
  };
  int64_t step = index_or(step_v, "step").value_or(1);
  if (step == 0) throw EvalError("slice step cannot be zero");
  std::vector<size_t> offsets;
  int64_t n;
  if (obj.is_string()) {
    offsets = utf8_offsets(obj.as_string());
    n = static_cast<int64_t>(offsets.size()) - 1;
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.as_list()->items.size());
  } else {
    throw EvalError("'" + type_name(obj) + "' object is not subscriptable");
  }
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = clamp(index_or(start_v, "start"), step > 0 ? 0 : n - 1);
  int64_t stop = clamp(index_or(stop_v, "stop"), step > 0 ? n : -1);
  std::vector<int64_t> picks;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(i);
  if (obj.is_string()) {
    std::string out;
    for (int64_t i : picks) out.append(obj.as_string(), offsets[i], offsets[i + 1] - offsets[i]);
    return Value(std::move(out));
  }
  std::vector<Value> items;
  for (int64_t i : picks) items.push_back(obj.as_list()->items[static_cast<size_t>(i)]);
  return make_list(std::move(items), obj.as_list()->is_tuple);
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (item.is_undefined()) throw EvalError(item.undefined_hint());
    if (!item.is_string()) throw EvalError("'in <string>' requires string as left operand, not " + type_name(item));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list()->items)
      if (equal(v, item)) return true;
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict()->find(item.as_string()) != nullptr;
  if (container.is_undefined()) return false;
  throw EvalError("argument of type '" + type_name(container) + "' is not iterable");
}

std::vector<Value> iterate(const Value& v) {
  if (v.is_list()) return v.as_list()->items;
  if (v.is_undefined()) return {};
  if (v.is_dict()) {
    std::vector<Value> keys;
    for (const auto& entry : v.as_dict()->entries) keys.emplace_back(entry.first);
    return keys;
  }
  if (v.is_string()) {
    std::vector<Value> chars;
    const std::string& s = v.as_string();
    for (size_t pos = 0; pos < s.size();) {
      size_t start = pos;
      utf8_next(s, pos);
      chars.emplace_back(s.substr(start, pos - start));
    }
    return chars;
  }
  throw EvalError("'" + type_name(v) + "' object is not iterable");
}

}  // namespace moxie::tmpl
