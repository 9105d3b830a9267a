#include "moxie/tokenizer/template/interpreter.h"

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/builtins.h"
#include "moxie/tokenizer/template/eval_error.h"

namespace moxie::tmpl {
namespace {

const char* construct_name(StmtKind kind) {
  switch (kind) {
    case StmtKind::output: return "{{ ... }}";
    case StmtKind::if_chain: return "{% if %}";
    case StmtKind::for_loop: return "{% for %}";
    case StmtKind::set:
    case StmtKind::set_block: return "{% set %}";
    case StmtKind::macro: return "{% macro %}";
    case StmtKind::filter_block: return "{% filter %}";
    default: return "template";
  }
}

}  // namespace

Interpreter::Interpreter(const Dict& variables, const RenderLimits& limits)
    : root_(std::make_shared<Frame>()), limits_(limits) {
  add_globals(root_->vars);
  for (const auto& [name, value] : variables.entries) root_->vars[name] = value;
}

std::string Interpreter::render(const Body& body) {
  std::string out;
  out_ = &out;
  Flow flow = exec_body(body, root_);
  if (flow != Flow::normal) throw Error("chat template: 'break' or 'continue' outside a loop");
  return out;
}

void Interpreter::emit(const std::string& text) {
  if (out_->size() + text.size() > limits_.max_output_bytes)
    throw EvalError("rendered output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
  *out_ += text;
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw EvalError("string of " + std::to_string(bytes) + " bytes exceeds the " +
                    std::to_string(limits_.max_output_bytes) + "-byte limit");
}

void Interpreter::count_step() {
  if (++steps_ > limits_.max_steps)
    throw EvalError("template exceeded " + std::to_string(limits_.max_steps) +
                    " loop iterations and macro calls (runaway loop?)");
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& frame) {
  for (const auto& stmt : body) {
    Flow flow = exec(*stmt, frame);
    if (flow != Flow::normal) return flow;
  }
  return Flow::normal;
}

// Runs one statement; evaluation errors become moxie::Error naming line and construct.
Interpreter::Flow Interpreter::exec(const Stmt& stmt, const FramePtr& frame) {
  current_line_ = stmt.line;
  try {
    switch (stmt.kind) {
      case StmtKind::text: emit(stmt.text); return Flow::normal;
      case StmtKind::output: emit(to_str(eval(*stmt.expr, frame))); return Flow::normal;
      case StmtKind::if_chain: return exec_if(stmt, frame);
      case StmtKind::for_loop: return exec_for(stmt, frame);
      case StmtKind::set:
      case StmtKind::set_block: exec_set(stmt, frame); return Flow::normal;
      case StmtKind::macro: exec_macro(stmt, frame); return Flow::normal;
      case StmtKind::filter_block: {
        Value text(capture(stmt.body, frame));
        emit(to_str(eval_filter(*stmt.expr, frame, &text)));
        return Flow::normal;
      }
      case StmtKind::loop_break: return Flow::loop_break;
      case StmtKind::loop_continue: return Flow::loop_continue;
    }
  } catch (const EvalError& e) {
    throw Error("chat template line " + std::to_string(current_line_) + ", in " + construct_name(stmt.kind) +
                ": " + e.what());
  } catch (const RaisedError& e) {
    throw Error("chat template raised an exception (line " + std::to_string(current_line_) + "): " + e.what());
  }
  return Flow::normal;
}

Interpreter::Flow Interpreter::exec_if(const Stmt& stmt, const FramePtr& frame) {
  for (const auto& [cond, body] : stmt.branches) {
    if (truthy(eval(*cond, frame))) return exec_body(body, frame);
  }
  return exec_body(stmt.else_body, frame);
}

namespace {
void bind_targets(Frame& frame, const std::vector<std::string>& targets, const Value& item) {
  if (targets.size() == 1) {
    frame.vars[targets[0]] = item;
    return;
  }
  std::vector<Value> parts = iterate(item);
  if (parts.size() != targets.size())
    throw EvalError(parts.size() > targets.size()
                        ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                        : "not enough values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                              std::to_string(parts.size()) + ")");
  for (size_t i = 0; i < targets.size(); ++i) frame.vars[targets[i]] = parts[i];
}

Value make_loop_object(const std::vector<Value>& items, size_t i) {
  auto loop = std::make_shared<Dict>();
  int64_t n = static_cast<int64_t>(items.size());
  int64_t idx = static_cast<int64_t>(i);
  loop->set("index0", Value(idx));
  loop->set("index", Value(idx + 1));
  loop->set("revindex0", Value(n - idx - 1));
  loop->set("revindex", Value(n - idx));
  loop->set("first", Value(i == 0));
  loop->set("last", Value(idx == n - 1));
  loop->set("length", Value(n));
  loop->set("depth", Value(int64_t{1}));
  loop->set("depth0", Value(int64_t{0}));
  loop->set("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
  loop->set("nextitem", idx + 1 < n ? items[i + 1] : Value::undefined("there is no next item"));
  loop->set("cycle", make_callable("loop.cycle", [idx](CallArgs& args) {
              if (args.positional.empty()) throw EvalError("loop.cycle() needs at least one value");
              return args.positional[static_cast<size_t>(idx) % args.positional.size()];
            }));
  loop->is_namespace = false;
  return Value(std::move(loop));
}
}  // namespace

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, const FramePtr& frame) {
  Value iterable = eval(*stmt.expr, frame);
  if (!iterable.is_undefined() && !iterable.is_list() && !iterable.is_dict() && !iterable.is_string())
    throw EvalError("'" + type_name(iterable) + "' object is not iterable");
  std::vector<Value> items = iterate(iterable);
  if (stmt.filter_cond) {  // `for x in xs if cond`: loop.length counts only kept items
    std::vector<Value> kept;
    for (const Value& item : items) {
      count_step();
      auto probe = std::make_shared<Frame>();
      probe->parent = frame;
      bind_targets(*probe, stmt.targets, item);
      if (truthy(eval(*stmt.filter_cond, probe))) kept.push_back(item);
    }
    items = std::move(kept);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    count_step();
    auto iteration = std::make_shared<Frame>();
    iteration->parent = frame;
    bind_targets(*iteration, stmt.targets, items[i]);
    iteration->vars["loop"] = make_loop_object(items, i);
    Flow flow = exec_body(stmt.body, iteration);
    if (flow == Flow::loop_break) break;
  }
  if (items.empty()) return exec_body(stmt.else_body, frame);
  return Flow::normal;
}

void Interpreter::exec_set(const Stmt& stmt, const FramePtr& frame) {
  Value value;
  if (stmt.kind == StmtKind::set_block) {
    value = Value(capture(stmt.body, frame));
    if (stmt.expr) value = eval_filter(*stmt.expr, frame, &value);
  } else {
    value = eval(*stmt.expr, frame);
  }
  if (!stmt.target_attr.empty()) {
    Value target = lookup(stmt.targets[0], frame);
    if (!target.is_dict() || !target.as_dict()->is_namespace)
      throw EvalError("cannot assign attribute '" + stmt.target_attr + "' on '" + stmt.targets[0] +
                      "': only namespace() objects take attribute assignment");
    target.as_dict()->set(stmt.target_attr, std::move(value));
    return;
  }
  bind_targets(*frame, stmt.targets, value);
}

void Interpreter::exec_macro(const Stmt& stmt, const FramePtr& frame) {
  // The macro sees its defining frame at call time (jinja2 closes over it).
  std::weak_ptr<Frame> weak_frame = frame;
  const Stmt* macro = &stmt;
  frame->vars[stmt.name] = make_callable(stmt.name, [this, macro, weak_frame](CallArgs& args) {
    FramePtr defined_in = weak_frame.lock();
    if (!defined_in) defined_in = root_;
    return call_macro(*macro, defined_in, args);
  });
}

Value Interpreter::call_macro(const Stmt& macro, const FramePtr& defined_in, CallArgs& args) {
  count_step();
  if (call_depth_ >= limits_.max_call_depth)
    throw EvalError("macro calls nest deeper than " + std::to_string(limits_.max_call_depth) +
                    " (runaway recursion in '" + macro.name + "'?)");
  if (args.positional.size() > macro.params.size())
    throw EvalError("macro '" + macro.name + "' takes not more than " + std::to_string(macro.params.size()) +
                    " argument(s)");
  auto frame = std::make_shared<Frame>();
  frame->parent = defined_in;
  for (size_t i = 0; i < macro.params.size(); ++i) {
    const auto& [param, default_expr] = macro.params[i];
    if (i < args.positional.size()) frame->vars[param] = args.positional[i];
    else if (const Value* kw = args.keyword_arg(param)) frame->vars[param] = *kw;
    else if (default_expr) frame->vars[param] = eval(*default_expr, frame);
    else frame->vars[param] = Value::undefined("'" + param + "' is undefined");
  }
  for (const auto& [key, value] : args.keyword) {
    bool known = false;
    for (const auto& param : macro.params) known = known || param.first == key;
    if (!known) throw EvalError("macro '" + macro.name + "' takes no keyword argument '" + key + "'");
  }
  ++call_depth_;
  struct DepthRestore {
    int& depth;
    ~DepthRestore() { --depth; }
  } restore{call_depth_};
  return Value(capture(macro.body, frame));
}

std::string Interpreter::capture(const Body& body, const FramePtr& frame) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  struct Restore {
    std::string*& out;
    std::string* saved;
    ~Restore() { out = saved; }
  } restore{out_, saved};
  Flow flow = exec_body(body, frame);
  if (flow != Flow::normal) throw EvalError("'break' or 'continue' outside a loop");
  return buffer;
}

}  // namespace moxie::tmpl
