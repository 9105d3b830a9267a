#pragma once
// The parser's state, shared by parser_statements.cc and parser_expressions.cc.
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/tokenizer/template/ast.h"
#include "moxie/tokenizer/template/lexer.h"

namespace moxie::tmpl {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  // Statements (parser_statements.cc).
  Body parse_body(std::initializer_list<std::string_view> end_tags, const char* opener, int opener_line);

  // Expressions (parser_expressions.cc), in jinja2's precedence order.
  ExprPtr parse_expression(bool with_conditional = true);
  ExprPtr parse_tuple(bool with_conditional = true, bool allow_empty = false);

 private:
  // Token access.
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const;
  void advance() {
    if (tokens_[pos_].kind != TokenKind::end_of_input) ++pos_;
  }
  bool at_op(std::string_view op) const { return current().kind == TokenKind::op && current().text == op; }
  bool at_name(std::string_view name) const { return current().kind == TokenKind::name && current().text == name; }
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);
  void expect_op(std::string_view op, const char* construct);
  std::string expect_name(const char* construct);
  void expect_block_end(const char* construct);
  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void fail_at(int line, const std::string& what) const;
  std::string describe_current() const;

  // Nesting guard: every recursive parse function holds one.
  struct DepthGuard {
    Parser& parser;
    explicit DepthGuard(Parser& p);
    ~DepthGuard() { --parser.depth_; }
  };

  // Statements.
  StmtPtr parse_statement();
  StmtPtr parse_if(int line);
  StmtPtr parse_for(int line);
  StmtPtr parse_set(int line);
  StmtPtr parse_macro(int line);
  StmtPtr parse_filter_block(int line);
  Body parse_wrapped_body(const char* tag, std::string_view end_tag, int line);
  std::vector<std::string> parse_assign_targets(const char* construct);

  // Expressions.
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_literal_collection(int line);
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_filter(ExprPtr subject);
  ExprPtr parse_test(ExprPtr subject);
  void parse_call_args(Expr& call);

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

ExprPtr make_expr(ExprKind kind, int line);

}  // namespace moxie::tmpl
