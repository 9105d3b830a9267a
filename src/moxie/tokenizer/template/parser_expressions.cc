// Expression grammar, lowest precedence first, as in jinja2's parser:
//   conditional: or ('if' or ('else' conditional)?)*
//   or / and / not / compare (== != < > <= >= in, not in)
//   math1 (+ -) / concat (~) / math2 (* / // %) / pow (**) / unary (- +)
//   then postfix (.attr [item] (call)) and filters (| f), tests (is t), calls.
#include "moxie/core/error.h"
#include "moxie/tokenizer/template/parser_internal.h"

namespace moxie::tmpl {

ExprPtr make_expr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

namespace {
ExprPtr make_binary(ExprKind kind, std::string op, ExprPtr lhs, ExprPtr rhs) {
  auto e = make_expr(kind, lhs->line);
  e->name = std::move(op);
  e->args.push_back(std::move(lhs));
  e->args.push_back(std::move(rhs));
  return e;
}
}  // namespace

ExprPtr Parser::parse_expression(bool with_conditional) {
  DepthGuard guard(*this);
  if (!with_conditional) return parse_or();
  ExprPtr expr = parse_or();
  while (at_name("if")) {
    int line = current().line;
    advance();
    auto cond = make_expr(ExprKind::conditional, line);
    cond->args.push_back(parse_or());
    cond->args.push_back(std::move(expr));
    cond->args.push_back(skip_name("else") ? parse_expression() : nullptr);
    expr = std::move(cond);
  }
  return expr;
}

// Comma-separated expressions; a single one without a trailing comma is itself.
ExprPtr Parser::parse_tuple(bool with_conditional, bool allow_empty) {
  int line = current().line;
  std::vector<ExprPtr> items;
  bool saw_comma = false;
  for (;;) {
    if (!items.empty() && !skip_op(",")) break;
    if (!items.empty()) saw_comma = true;
    bool at_end = current().kind == TokenKind::variable_end || current().kind == TokenKind::block_end ||
                  at_op(")") || at_name("in") || at_op("=");
    if (at_end && (!items.empty() || allow_empty)) break;
    items.push_back(parse_expression(with_conditional));
  }
  if (items.size() == 1 && !saw_comma) return std::move(items[0]);
  auto tuple = make_expr(ExprKind::tuple, line);
  tuple->args = std::move(items);
  return tuple;
}

ExprPtr Parser::parse_or() {
  ExprPtr lhs = parse_and();
  while (skip_name("or")) lhs = make_binary(ExprKind::logical_or, "or", std::move(lhs), parse_and());
  return lhs;
}

ExprPtr Parser::parse_and() {
  ExprPtr lhs = parse_not();
  while (skip_name("and")) lhs = make_binary(ExprKind::logical_and, "and", std::move(lhs), parse_not());
  return lhs;
}

ExprPtr Parser::parse_not() {
  DepthGuard guard(*this);
  if (at_name("not")) {
    auto e = make_expr(ExprKind::logical_not, current().line);
    advance();
    e->args.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  ExprPtr first = parse_math1();
  std::unique_ptr<Expr> chain;
  for (;;) {
    std::string op;
    static const char* const symbols[] = {"==", "!=", "<", ">", "<=", ">="};
    for (const char* s : symbols)
      if (at_op(s)) op = s;
    if (!op.empty()) {
      advance();
    } else if (at_name("in")) {
      advance();
      op = "in";
    } else if (at_name("not") && peek().kind == TokenKind::name && peek().text == "in") {
      advance();
      advance();
      op = "not in";
    } else {
      break;
    }
    if (!chain) {
      chain = make_expr(ExprKind::compare, first->line);
      chain->args.push_back(std::move(first));
    }
    chain->ops.push_back(op);
    chain->args.push_back(parse_math1());
  }
  return chain ? std::move(chain) : std::move(first);
}

ExprPtr Parser::parse_math1() {
  ExprPtr lhs = parse_concat();
  while (at_op("+") || at_op("-")) {
    std::string op = current().text;
    advance();
    lhs = make_binary(ExprKind::binary, op, std::move(lhs), parse_concat());
  }
  return lhs;
}

ExprPtr Parser::parse_concat() {
  ExprPtr lhs = parse_math2();
  while (skip_op("~")) lhs = make_binary(ExprKind::binary, "~", std::move(lhs), parse_math2());
  return lhs;
}

ExprPtr Parser::parse_math2() {
  ExprPtr lhs = parse_pow();
  while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
    std::string op = current().text;
    advance();
    lhs = make_binary(ExprKind::binary, op, std::move(lhs), parse_pow());
  }
  return lhs;
}

ExprPtr Parser::parse_pow() {
  ExprPtr lhs = parse_unary(true);
  while (skip_op("**")) lhs = make_binary(ExprKind::binary, "**", std::move(lhs), parse_unary(true));
  return lhs;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(*this);
  ExprPtr node;
  if (at_op("-") || at_op("+")) {
    node = make_expr(at_op("-") ? ExprKind::negate : ExprKind::plus, current().line);
    advance();
    node->args.push_back(parse_unary(false));
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  return with_filter ? parse_filter_expr(std::move(node)) : std::move(node);
}

ExprPtr Parser::parse_primary() {
  DepthGuard guard(*this);
  const Token& tok = current();
  int line = tok.line;
  if (tok.kind == TokenKind::name) {
    auto e = make_expr(ExprKind::literal, line);
    if (tok.text == "true" || tok.text == "True") e->literal = Value(true);
    else if (tok.text == "false" || tok.text == "False") e->literal = Value(false);
    else if (tok.text == "none" || tok.text == "None") e->literal = Value(None{});
    else e = make_expr(ExprKind::name, line), e->name = tok.text;
    advance();
    return e;
  }
  if (tok.kind == TokenKind::string) {
    std::string joined;
    while (current().kind == TokenKind::string) {  // adjacent literals concatenate, as in Python
      joined += current().text;
      advance();
    }
    auto e = make_expr(ExprKind::literal, line);
    e->literal = Value(std::move(joined));
    return e;
  }
  if (tok.kind == TokenKind::integer || tok.kind == TokenKind::floating) {
    auto e = make_expr(ExprKind::literal, line);
    e->literal = tok.kind == TokenKind::integer ? Value(tok.int_value) : Value(tok.float_value);
    advance();
    return e;
  }
  if (at_op("(")) {
    advance();
    ExprPtr inner = parse_tuple(true, true);
    expect_op(")", "parenthesized expression");
    return inner;
  }
  if (at_op("[") || at_op("{")) return parse_literal_collection(line);
  fail("expected an expression, got " + describe_current());
}

// [a, b, ...] or {key: value, ...}; a trailing comma is allowed.
ExprPtr Parser::parse_literal_collection(int line) {
  bool is_list = at_op("[");
  advance();
  auto e = make_expr(is_list ? ExprKind::list : ExprKind::dict, line);
  const char* close = is_list ? "]" : "}";
  while (!at_op(close)) {
    if (!e->args.empty()) expect_op(",", is_list ? "list literal" : "dict literal");
    if (at_op(close)) break;
    e->args.push_back(parse_expression());
    if (!is_list) {
      expect_op(":", "dict literal");
      e->args.push_back(parse_expression());
    }
  }
  advance();
  return e;
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  for (;;) {
    if (at_op(".")) {
      int line = current().line;
      advance();
      if (current().kind == TokenKind::integer) {  // x.0 is x[0]
        auto item = make_expr(ExprKind::get_item, line);
        auto index = make_expr(ExprKind::literal, line);
        index->literal = Value(current().int_value);
        advance();
        item->args.push_back(std::move(node));
        item->args.push_back(std::move(index));
        node = std::move(item);
        continue;
      }
      auto attr = make_expr(ExprKind::get_attr, line);
      attr->name = expect_name("attribute access");
      attr->args.push_back(std::move(node));
      node = std::move(attr);
    } else if (at_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (at_op("(")) {
      auto call = make_expr(ExprKind::call, current().line);
      call->args.push_back(std::move(node));
      parse_call_args(*call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

// x[i], x[a:b], x[a:b:c], x[::-1]
ExprPtr Parser::parse_subscript(ExprPtr node) {
  int line = current().line;
  advance();
  ExprPtr parts[3];
  bool is_slice = false;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (!skip_op(":")) break;
      is_slice = true;
    }
    if (!at_op(":") && !at_op("]")) parts[i] = i == 0 ? parse_tuple() : parse_expression();
  }
  expect_op("]", "subscript");
  if (!is_slice && !parts[0]) fail_at(line, "empty subscript '[]'");
  auto e = make_expr(is_slice ? ExprKind::slice : ExprKind::get_item, line);
  e->args.push_back(std::move(node));
  if (is_slice) {
    for (auto& part : parts) e->args.push_back(std::move(part));
  } else {
    e->args.push_back(std::move(parts[0]));
  }
  return e;
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  for (;;) {
    if (at_op("|")) node = parse_filter(std::move(node));
    else if (at_name("is")) node = parse_test(std::move(node));
    else if (at_op("(")) node = parse_postfix(std::move(node));
    else return node;
  }
}

ExprPtr Parser::parse_filter(ExprPtr subject) {
  int line = current().line;
  advance();  // '|'
  auto e = make_expr(ExprKind::filter, line);
  e->name = expect_name("filter");
  while (at_op(".")) {  // dotted filter names
    advance();
    e->name.append(".").append(expect_name("filter"));
  }
  e->args.push_back(std::move(subject));
  if (at_op("(")) parse_call_args(*e);
  return e;
}

ExprPtr Parser::parse_test(ExprPtr subject) {
  int line = current().line;
  advance();  // 'is'
  auto e = make_expr(ExprKind::test, line);
  e->negated = skip_name("not");
  e->name = expect_name("test after 'is'");
  e->args.push_back(std::move(subject));
  const Token& tok = current();
  bool starts_argument = tok.kind == TokenKind::name || tok.kind == TokenKind::string ||
                         tok.kind == TokenKind::integer || tok.kind == TokenKind::floating || at_op("[") ||
                         at_op("{");
  if (at_op("(")) {
    parse_call_args(*e);
  } else if (starts_argument && !at_name("else") && !at_name("or") && !at_name("and")) {
    if (at_name("is")) fail("cannot chain tests with 'is'");
    e->args.push_back(parse_postfix(parse_primary()));
  }
  return e;
}

// ( positional..., name=value... ); appends to call.args and call.kwargs.
void Parser::parse_call_args(Expr& call) {
  expect_op("(", "call");
  bool first = true;
  while (!at_op(")")) {
    if (!first) expect_op(",", "call arguments");
    first = false;
    if (at_op(")")) break;
    if (at_op("*") || at_op("**")) fail("*args and **kwargs in calls are not supported");
    if (current().kind == TokenKind::name && peek().kind == TokenKind::op && peek().text == "=") {
      std::string key = current().text;
      advance();
      advance();
      call.kwargs.emplace_back(key, parse_expression());
    } else {
      if (!call.kwargs.empty()) fail("positional argument after keyword argument");
      call.args.push_back(parse_expression());
    }
  }
  advance();
}

}  // namespace moxie::tmpl
