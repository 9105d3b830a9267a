#pragma once
// The values a chat template computes with, modelled on the Python objects jinja2 sees
// when Hugging Face renders a template: None, bool, int, float, str, list/tuple, dict,
// namespace, callables, and jinja2's default Undefined. Lists and dicts are shared
// (reference semantics, like Python), strings are UTF-8.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace moxie::tmpl {

struct Value;
struct List;
struct Dict;
struct Callable;
using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using CallablePtr = std::shared_ptr<Callable>;

// jinja2's Undefined: renders as "", is falsy and iterates as empty, but any attribute,
// item, call or arithmetic on it is an error. `hint` is what jinja2 would name in that
// error ("'foo' is undefined", "'dict object' has no attribute 'x'").
struct Undefined {
  std::string hint;
};
struct None {};

struct Value {
  std::variant<Undefined, None, bool, int64_t, double, std::string, ListPtr, DictPtr, CallablePtr> data;

  Value() = default;
  Value(None) : data(None{}) {}
  Value(bool b) : data(b) {}
  Value(int v) : data(static_cast<int64_t>(v)) {}
  Value(int64_t v) : data(v) {}
  Value(double v) : data(v) {}
  Value(std::string s) : data(std::move(s)) {}
  Value(const char* s) : data(std::string(s)) {}
  Value(ListPtr l) : data(std::move(l)) {}
  Value(DictPtr d) : data(std::move(d)) {}
  Value(CallablePtr c) : data(std::move(c)) {}
  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }

  bool is_undefined() const { return std::holds_alternative<Undefined>(data); }
  bool is_none() const { return std::holds_alternative<None>(data); }
  bool is_bool() const { return std::holds_alternative<bool>(data); }
  bool is_int() const { return std::holds_alternative<int64_t>(data); }
  bool is_float() const { return std::holds_alternative<double>(data); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(data); }
  bool is_list() const { return std::holds_alternative<ListPtr>(data); }
  bool is_dict() const { return std::holds_alternative<DictPtr>(data); }
  bool is_callable() const { return std::holds_alternative<CallablePtr>(data); }

  bool as_bool() const { return std::get<bool>(data); }
  int64_t as_int() const { return std::get<int64_t>(data); }
  double as_float() const { return std::get<double>(data); }
  const std::string& as_string() const { return std::get<std::string>(data); }
  const ListPtr& as_list() const { return std::get<ListPtr>(data); }
  const DictPtr& as_dict() const { return std::get<DictPtr>(data); }
  const CallablePtr& as_callable() const { return std::get<CallablePtr>(data); }
  const std::string& undefined_hint() const { return std::get<Undefined>(data).hint; }

 private:
  explicit Value(Undefined u) : data(std::move(u)) {}
};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;  // only changes how it prints: (a, b) instead of [a, b]
};

// Insertion-ordered like a Python dict. Keys are strings (JSON objects, dict literals).
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  std::unordered_map<std::string, size_t> index;
  bool is_namespace = false;  // namespace(): the one object templates may assign attributes to

  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Arguments of a call as written: f(a, b, key=c).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* keyword_arg(std::string_view name) const;
};

struct Callable {
  std::string name;  // for error messages and repr
  std::function<Value(CallArgs&)> call;
};

Value make_list(std::vector<Value> items = {}, bool is_tuple = false);
Value make_dict();
Value make_callable(std::string name, std::function<Value(CallArgs&)> fn);

// Python semantics.
bool truthy(const Value& v);
std::string type_name(const Value& v);        // "str", "int", "dict", ... as Python names them
std::string to_str(const Value& v);           // str(v); Undefined gives ""
std::string repr(const Value& v);             // repr(v), used inside containers
std::string python_float_repr(double d);      // repr(float): shortest round-trip, Python's layout
bool equal(const Value& a, const Value& b);   // a == b
// a < b for numbers, strings and sequences; throws std::invalid_argument naming the types.
bool less(const Value& a, const Value& b);

}  // namespace moxie::tmpl
