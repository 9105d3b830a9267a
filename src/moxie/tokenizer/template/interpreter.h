#pragma once
// Executes a parsed template. Scoping follows jinja2: each loop iteration and each macro
// call gets a fresh frame chained to the frame it was written in, so `set` inside a loop
// never leaks out (templates use namespace() for that).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "moxie/tokenizer/template/ast.h"
#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

// Bounds that keep a hostile or buggy template from hanging or exhausting the stack.
struct RenderLimits {
  int64_t max_steps = 5'000'000;         // loop iterations + macro calls, all together
  int max_call_depth = 64;               // nested macro calls
  size_t max_output_bytes = 64u << 20;   // rendered text, and any string built on the way
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(const Dict& variables, const RenderLimits& limits);
  std::string render(const Body& body);

  // Used by filters that take a filter or test name (map, select, ...).
  Value call_filter(const std::string& name, Value subject, CallArgs& args);
  bool call_test(const std::string& name, const Value& subject, CallArgs& args);
  const RenderLimits& limits() const { return limits_; }
  void check_string_size(size_t bytes) const;

 private:
  enum class Flow { normal, loop_break, loop_continue };

  Flow exec_body(const Body& body, const FramePtr& frame);
  Flow exec(const Stmt& stmt, const FramePtr& frame);
  Flow exec_if(const Stmt& stmt, const FramePtr& frame);
  Flow exec_for(const Stmt& stmt, const FramePtr& frame);
  void exec_set(const Stmt& stmt, const FramePtr& frame);
  void exec_macro(const Stmt& stmt, const FramePtr& frame);
  std::string capture(const Body& body, const FramePtr& frame);
  void emit(const std::string& text);
  void count_step();

  Value eval(const Expr& e, const FramePtr& frame);
  Value lookup(const std::string& name, const FramePtr& frame) const;
  Value eval_call(const Expr& e, const FramePtr& frame);
  Value eval_filter(const Expr& e, const FramePtr& frame, Value* block_subject);
  Value eval_test(const Expr& e, const FramePtr& frame);
  Value eval_compare(const Expr& e, const FramePtr& frame);
  Value eval_collection(const Expr& e, const FramePtr& frame);
  CallArgs eval_args(const Expr& e, const FramePtr& frame, size_t first_arg);
  Value call_macro(const Stmt& macro, const FramePtr& defined_in, CallArgs& args);

  FramePtr root_;
  RenderLimits limits_;
  std::string* out_ = nullptr;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  int current_line_ = 0;  // line of the expression being evaluated, for error messages
};

// Operators and lookups shared by the interpreter and filters (operators.cc).
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_bytes);
bool contains(const Value& container, const Value& item);
// The items a for loop or a filter iterates: list items, dict keys, string characters.
std::vector<Value> iterate(const Value& v);

}  // namespace moxie::tmpl
