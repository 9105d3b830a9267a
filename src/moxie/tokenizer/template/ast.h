#pragma once
// Syntax tree of a parsed template. One node struct per family (expressions,
// statements) with a kind tag: the interpreter switches on the kind.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "moxie/tokenizer/template/value.h"

namespace moxie::tmpl {

enum class ExprKind {
  literal,   // literal
  name,      // name
  get_attr,  // args[0] . name
  get_item,  // args[0] [ args[1] ]
  slice,     // args[0] [ args[1] : args[2] : args[3] ]   (absent parts are null)
  call,      // args[0] ( args[1..], kwargs )
  filter,    // args[0] | name ( args[1..], kwargs )       (args[0] null in a filter block)
  test,      // args[0] is [not] name ( args[1..] )
  negate,    // - args[0]
  plus,      // + args[0]
  logical_not,
  binary,    // args[0] name args[1], name in + - * / // % ** ~
  compare,   // args[0] ops[0] args[1] ops[1] args[2] ...  (chained like Python)
  logical_and,
  logical_or,
  conditional,  // args[1] if args[0] else args[2]  (args[2] null: Undefined)
  list,
  tuple,
  dict,      // args: key0, value0, key1, value1, ...
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // `is not`
};

enum class StmtKind {
  text,          // text
  output,        // {{ expr }}
  if_chain,      // branches (cond, body) ..., else_body
  for_loop,      // for targets in expr [if filter_cond]: body, else_body
  set,           // set targets = expr  |  set targets[0].target_attr = expr
  set_block,     // set targets[0] [| filters] : body        (filters in expr, subject null)
  macro,         // macro name(params): body
  filter_block,  // filter expr: body
  loop_break,
  loop_continue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter_cond;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string target_attr;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults (may be null)
};

}  // namespace moxie::tmpl
