#include "moxie/tokenizer/template/predicates.h"

#include <unordered_map>

#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/methods.h"

namespace moxie::tmpl {
namespace {

const Value& arg(const CallArgs& args, const char* test) {
  if (args.positional.empty()) throw EvalError(std::string("test '") + test + "' needs an argument");
  return args.positional[0];
}

int64_t int_of(const Value& v, const char* test) {
  if (v.is_undefined()) throw EvalError(v.undefined_hint());
  if (v.is_bool()) return v.as_bool();
  if (!v.is_int()) throw EvalError(std::string("test '") + test + "' needs an integer, got '" + type_name(v) + "'");
  return v.as_int();
}

int64_t python_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

bool test_divisibleby(const Value& v, CallArgs& a) {
  int64_t d = int_of(arg(a, "divisibleby"), "divisibleby");
  if (d == 0) throw EvalError("integer division or modulo by zero");
  return python_mod(int_of(v, "divisibleby"), d) == 0;
}

bool test_lower(const Value& v, CallArgs&) {
  std::string s = to_str(v);
  return ascii_lower(s) == s && ascii_upper(s) != s;
}

bool test_upper(const Value& v, CallArgs&) {
  std::string s = to_str(v);
  return ascii_upper(s) == s && ascii_lower(s) != s;
}

bool compare_test(const Value& v, CallArgs& a, const char* op) {
  const Value& other = arg(a, op);
  std::string o = op;
  if (o == "==") return equal(v, other);
  if (o == "!=") return !equal(v, other);
  if (o == "<") return less(v, other);
  if (o == "<=") return !less(other, v);
  if (o == ">") return less(other, v);
  return !less(v, other);
}

const std::unordered_map<std::string, TestFn>& test_table() {
  static const std::unordered_map<std::string, TestFn> table = {
      {"defined", [](const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false", [](const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](const Value& v, CallArgs&) { return v.is_int(); }},
      {"float", [](const Value& v, CallArgs&) { return v.is_float(); }},
      {"number", [](const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](const Value& v, CallArgs&) { return v.is_dict() && !v.as_dict()->is_namespace; }},
      {"iterable",
       [](const Value& v, CallArgs&) { return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.as_dict()->is_namespace); }},
      {"sequence",
       [](const Value& v, CallArgs&) { return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.as_dict()->is_namespace); }},
      {"callable", [](const Value& v, CallArgs&) { return v.is_callable(); }},
      {"escaped", [](const Value&, CallArgs&) { return false; }},
      {"sameas",
       [](const Value& v, CallArgs& a) {
         const Value& o = arg(a, "sameas");
         if (v.is_list() && o.is_list()) return v.as_list() == o.as_list();
         if (v.is_dict() && o.is_dict()) return v.as_dict() == o.as_dict();
         if (v.is_none() || v.is_bool()) return v.data.index() == o.data.index() && equal(v, o);
         return false;
       }},
      {"eq", [](const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"equalto", [](const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"==", [](const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"ne", [](const Value& v, CallArgs& a) { return compare_test(v, a, "!="); }},
      {"!=", [](const Value& v, CallArgs& a) { return compare_test(v, a, "!="); }},
      {"lt", [](const Value& v, CallArgs& a) { return compare_test(v, a, "<"); }},
      {"lessthan", [](const Value& v, CallArgs& a) { return compare_test(v, a, "<"); }},
      {"le", [](const Value& v, CallArgs& a) { return compare_test(v, a, "<="); }},
      {"gt", [](const Value& v, CallArgs& a) { return compare_test(v, a, ">"); }},
      {"greaterthan", [](const Value& v, CallArgs& a) { return compare_test(v, a, ">"); }},
      {"ge", [](const Value& v, CallArgs& a) { return compare_test(v, a, ">="); }},
      {"in", [](const Value& v, CallArgs& a) { return contains(arg(a, "in"), v); }},
      {"divisibleby", test_divisibleby},
      {"even", [](const Value& v, CallArgs&) { return python_mod(int_of(v, "even"), 2) == 0; }},
      {"odd", [](const Value& v, CallArgs&) { return python_mod(int_of(v, "odd"), 2) == 1; }},
      {"lower", test_lower},
      {"upper", test_upper},
  };
  return table;
}

}  // namespace

TestFn find_test(const std::string& name) {
  auto it = test_table().find(name);
  return it == test_table().end() ? nullptr : it->second;
}

}  // namespace moxie::tmpl
