// Expression evaluation: names, attribute/item access, calls, filters, tests, operators.
#include "moxie/tokenizer/template/eval_error.h"
#include "moxie/tokenizer/template/filters.h"
#include "moxie/tokenizer/template/interpreter.h"
#include "moxie/tokenizer/template/predicates.h"

namespace moxie::tmpl {
namespace {
[[noreturn]] void undefined_error(const Value& v) { throw EvalError(v.undefined_hint()); }
}  // namespace

Value Interpreter::lookup(const std::string& name, const FramePtr& frame) const {
  for (const Frame* f = frame.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::eval(const Expr& e, const FramePtr& frame) {
  current_line_ = e.line;
  switch (e.kind) {
    case ExprKind::literal: return e.literal;
    case ExprKind::name: return lookup(e.name, frame);
    case ExprKind::get_attr: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) undefined_error(obj);
      return get_attribute(obj, e.name);
    }
    case ExprKind::get_item: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) undefined_error(obj);
      return get_item(obj, eval(*e.args[1], frame));
    }
    case ExprKind::slice: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) undefined_error(obj);
      Value parts[3];
      for (int i = 0; i < 3; ++i) parts[i] = e.args[i + 1] ? eval(*e.args[i + 1], frame) : Value(None{});
      return slice_value(obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::call: return eval_call(e, frame);
    case ExprKind::filter: return eval_filter(e, frame, nullptr);
    case ExprKind::test: return eval_test(e, frame);
    case ExprKind::negate:
    case ExprKind::plus: {
      Value v = eval(*e.args[0], frame);
      if (v.is_undefined()) undefined_error(v);
      if (!v.is_number()) throw EvalError("bad operand type for unary " + std::string(e.kind == ExprKind::negate ? "-" : "+") + ": '" + type_name(v) + "'");
      if (e.kind == ExprKind::plus) return v.is_bool() ? Value(int64_t{v.as_bool()}) : v;
      return binary_op("-", Value(int64_t{0}), v, limits_.max_output_bytes);
    }
    case ExprKind::logical_not: return Value(!truthy(eval(*e.args[0], frame)));
    case ExprKind::binary: {
      Value a = eval(*e.args[0], frame);
      Value b = eval(*e.args[1], frame);
      current_line_ = e.line;
      return binary_op(e.name, a, b, limits_.max_output_bytes);
    }
    case ExprKind::compare: return eval_compare(e, frame);
    case ExprKind::logical_and: {
      Value a = eval(*e.args[0], frame);
      return truthy(a) ? eval(*e.args[1], frame) : a;
    }
    case ExprKind::logical_or: {
      Value a = eval(*e.args[0], frame);
      return truthy(a) ? a : eval(*e.args[1], frame);
    }
    case ExprKind::conditional:
      if (truthy(eval(*e.args[0], frame))) return eval(*e.args[1], frame);
      return e.args[2] ? eval(*e.args[2], frame) : Value::undefined("the inline if-expression had no else");
    case ExprKind::list:
    case ExprKind::tuple:
    case ExprKind::dict: return eval_collection(e, frame);
  }
  throw EvalError("unknown expression");
}

Value Interpreter::eval_collection(const Expr& e, const FramePtr& frame) {
  if (e.kind == ExprKind::dict) {
    Value dict = make_dict();
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      Value key = eval(*e.args[i], frame);
      if (!key.is_string()) throw EvalError("dict literal keys must be strings, got '" + type_name(key) + "'");
      dict.as_dict()->set(key.as_string(), eval(*e.args[i + 1], frame));
    }
    return dict;
  }
  std::vector<Value> items;
  items.reserve(e.args.size());
  for (const auto& arg : e.args) items.push_back(eval(*arg, frame));
  return make_list(std::move(items), e.kind == ExprKind::tuple);
}

CallArgs Interpreter::eval_args(const Expr& e, const FramePtr& frame, size_t first_arg) {
  CallArgs args;
  for (size_t i = first_arg; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], frame));
  for (const auto& [key, expr] : e.kwargs) args.keyword.emplace_back(key, eval(*expr, frame));
  return args;
}

Value Interpreter::eval_call(const Expr& e, const FramePtr& frame) {
  Value callee = eval(*e.args[0], frame);
  if (callee.is_undefined()) undefined_error(callee);
  if (!callee.is_callable()) throw EvalError("'" + type_name(callee) + "' object is not callable");
  CallArgs args = eval_args(e, frame, 1);
  current_line_ = e.line;
  return callee.as_callable()->call(args);
}

// `block_subject` is the captured text of a {% filter %} or block {% set %}: it feeds the
// innermost filter of the chain, whose subject expression is null.
Value Interpreter::eval_filter(const Expr& e, const FramePtr& frame, Value* block_subject) {
  Value subject;
  if (e.args[0]) subject = e.args[0]->kind == ExprKind::filter ? eval_filter(*e.args[0], frame, block_subject)
                                                                : eval(*e.args[0], frame);
  else if (block_subject) subject = *block_subject;
  CallArgs args = eval_args(e, frame, 1);
  current_line_ = e.line;
  return call_filter(e.name, std::move(subject), args);
}

Value Interpreter::eval_test(const Expr& e, const FramePtr& frame) {
  Value subject = eval(*e.args[0], frame);
  CallArgs args = eval_args(e, frame, 1);
  current_line_ = e.line;
  bool result = call_test(e.name, subject, args);
  return Value(e.negated ? !result : result);
}

// Chained like Python: a < b < c means a < b and b < c, each operand evaluated once.
Value Interpreter::eval_compare(const Expr& e, const FramePtr& frame) {
  Value lhs = eval(*e.args[0], frame);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value rhs = eval(*e.args[i + 1], frame);
    const std::string& op = e.ops[i];
    bool ok;
    if (op == "==") ok = equal(lhs, rhs);
    else if (op == "!=") ok = !equal(lhs, rhs);
    else if (op == "in") ok = contains(rhs, lhs);
    else if (op == "not in") ok = !contains(rhs, lhs);
    else {
      if (lhs.is_undefined()) undefined_error(lhs);
      if (rhs.is_undefined()) undefined_error(rhs);
      if (op == "<") ok = less(lhs, rhs);
      else if (op == ">") ok = less(rhs, lhs);
      else if (op == "<=") ok = !less(rhs, lhs);
      else ok = !less(lhs, rhs);
    }
    if (!ok) return Value(false);
    lhs = std::move(rhs);
  }
  return Value(true);
}

Value Interpreter::call_filter(const std::string& name, Value subject, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (!fn) throw EvalError("unknown filter '" + name + "'");
  return fn(subject, args, *this);
}

bool Interpreter::call_test(const std::string& name, const Value& subject, CallArgs& args) {
  TestFn fn = find_test(name);
  if (!fn) throw EvalError("unknown test '" + name + "'");
  return fn(subject, args);
}

}  // namespace moxie::tmpl
