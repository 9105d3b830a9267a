// Statement grammar: text, {{ expr }}, and the tags chat templates use: if/elif/else,
// for (with `if` filter and else), set (expression, namespace attribute, block), macro,
// filter blocks, break/continue, and Hugging Face's {% generation %} marker.
#include "moxie/core/error.h"
#include "moxie/tokenizer/template/parser.h"
#include "moxie/tokenizer/template/parser_internal.h"

namespace moxie::tmpl {

const Token& Parser::peek(size_t ahead) const {
  size_t i = pos_ + ahead;
  return i < tokens_.size() ? tokens_[i] : tokens_.back();
}

bool Parser::skip_op(std::string_view op) {
  if (!at_op(op)) return false;
  advance();
  return true;
}

bool Parser::skip_name(std::string_view name) {
  if (!at_name(name)) return false;
  advance();
  return true;
}

std::string Parser::describe_current() const {
  const Token& tok = current();
  switch (tok.kind) {
    case TokenKind::text: return "template text";
    case TokenKind::variable_begin: return "'{{'";
    case TokenKind::variable_end: return "'}}'";
    case TokenKind::block_begin: return "'{%'";
    case TokenKind::block_end: return "'%}'";
    case TokenKind::end_of_input: return "end of template";
    case TokenKind::string: return "string literal";
    case TokenKind::integer:
    case TokenKind::floating: return "number " + tok.text;
    default: return "'" + tok.text + "'";
  }
}

void Parser::fail(const std::string& what) const { fail_at(current().line, what); }

void Parser::fail_at(int line, const std::string& what) const {
  throw Error("chat template line " + std::to_string(line) + ": " + what);
}

void Parser::expect_op(std::string_view op, const char* construct) {
  if (!skip_op(op)) fail("expected '" + std::string(op) + "' in " + construct + ", got " + describe_current());
}

std::string Parser::expect_name(const char* construct) {
  if (current().kind != TokenKind::name) fail(std::string("expected a name in ") + construct + ", got " + describe_current());
  std::string name = current().text;
  advance();
  return name;
}

void Parser::expect_block_end(const char* construct) {
  if (current().kind != TokenKind::block_end)
    fail(std::string("expected '%}' to end ") + construct + ", got " + describe_current());
  advance();
}

Parser::DepthGuard::DepthGuard(Parser& p) : parser(p) {
  if (++parser.depth_ > kMaxParseDepth)
    parser.fail("template nests deeper than " + std::to_string(kMaxParseDepth) + " levels");
}

// Parses until a {% tag %} whose name is in end_tags (left unconsumed: the caller reads
// it) or, with no end tags, until the end of the template.
Body Parser::parse_body(std::initializer_list<std::string_view> end_tags, const char* opener, int opener_line) {
  DepthGuard guard(*this);
  Body body;
  for (;;) {
    const Token& tok = current();
    if (tok.kind == TokenKind::end_of_input) {
      if (end_tags.size() == 0) return body;
      std::string expected;
      for (auto tag : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(tag) + "'";
      fail("unexpected end of template, expected " + expected + " to close '" + opener + "' opened at line " +
           std::to_string(opener_line));
    }
    if (tok.kind == TokenKind::text) {
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = StmtKind::text;
      stmt->line = tok.line;
      stmt->text = tok.text;
      body.push_back(std::move(stmt));
      advance();
    } else if (tok.kind == TokenKind::variable_begin) {
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = StmtKind::output;
      stmt->line = tok.line;
      advance();
      stmt->expr = parse_tuple();
      if (current().kind != TokenKind::variable_end) fail("expected '}}' to end '{{ ... }}', got " + describe_current());
      advance();
      body.push_back(std::move(stmt));
    } else {  // block_begin
      const Token& name = peek();
      for (auto tag : end_tags)
        if (name.kind == TokenKind::name && name.text == tag) return body;
      advance();
      if (StmtPtr stmt = parse_statement()) body.push_back(std::move(stmt));
    }
  }
}

StmtPtr Parser::parse_statement() {
  int line = current().line;
  if (current().kind != TokenKind::name) fail("expected a tag name after '{%', got " + describe_current());
  std::string tag = current().text;
  advance();
  auto simple = [&](StmtKind kind) {
    expect_block_end(("'" + tag + "'").c_str());
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->line = line;
    return stmt;
  };
  if (tag == "if") return parse_if(line);
  if (tag == "for") return parse_for(line);
  if (tag == "set") return parse_set(line);
  if (tag == "macro") return parse_macro(line);
  if (tag == "filter") return parse_filter_block(line);
  if (tag == "break") return simple(StmtKind::loop_break);
  if (tag == "continue") return simple(StmtKind::loop_continue);
  if (tag == "generation") {  // Hugging Face's assistant-mask marker: renders its body
    expect_block_end("'generation'");
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = StmtKind::if_chain;
    stmt->line = line;
    auto always = make_expr(ExprKind::literal, line);
    always->literal = Value(true);
    stmt->branches.emplace_back(std::move(always), parse_wrapped_body("generation", "endgeneration", line));
    return stmt;
  }
  static const char* const closers[] = {"elif", "else", "endif", "endfor", "endset", "endmacro", "endfilter",
                                        "endraw", "endgeneration"};
  for (const char* name : closers)
    if (tag == name) fail_at(line, "unexpected '" + tag + "': there is no open block it could close");
  static const char* const unsupported[] = {"include", "import", "from", "extends", "block", "call", "with",
                                            "do", "autoescape"};
  for (const char* name : unsupported)
    if (tag == name) fail_at(line, "the '" + tag + "' tag is not supported in chat templates");
  fail_at(line, "unknown tag '" + tag + "'");
}

// Body up to {% end_tag %}, consuming that closing tag.
Body Parser::parse_wrapped_body(const char* tag, std::string_view end_tag, int line) {
  Body body = parse_body({end_tag}, tag, line);
  advance();  // '{%'
  advance();  // end tag name
  expect_block_end(std::string("'").append(end_tag).append("'").c_str());
  return body;
}

StmtPtr Parser::parse_if(int line) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::if_chain;
  stmt->line = line;
  for (;;) {
    ExprPtr cond = parse_tuple();
    expect_block_end("'if' condition");
    Body body = parse_body({"elif", "else", "endif"}, "if", line);
    stmt->branches.emplace_back(std::move(cond), std::move(body));
    advance();  // '{%'
    std::string tag = current().text;
    advance();
    if (tag == "elif") continue;
    if (tag == "else") {
      expect_block_end("'else'");
      stmt->else_body = parse_wrapped_body("if", "endif", line);
    } else {
      expect_block_end("'endif'");
    }
    return stmt;
  }
}

// Names assigned by for/set: `x`, `k, v`, `(k, v)`.
std::vector<std::string> Parser::parse_assign_targets(const char* construct) {
  std::vector<std::string> names;
  bool parenthesized = skip_op("(");
  do {
    if (parenthesized && at_op(")")) break;
    names.push_back(expect_name(construct));
  } while (skip_op(","));
  if (parenthesized) expect_op(")", construct);
  return names;
}

StmtPtr Parser::parse_for(int line) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::for_loop;
  stmt->line = line;
  stmt->targets = parse_assign_targets("'for' target");
  if (!skip_name("in")) fail("expected 'in' in 'for', got " + describe_current());
  stmt->expr = parse_tuple(/*with_conditional=*/false);
  if (skip_name("if")) stmt->filter_cond = parse_expression();
  if (at_name("recursive")) fail("recursive loops are not supported");
  expect_block_end("'for'");
  stmt->body = parse_body({"else", "endfor"}, "for", line);
  advance();  // '{%'
  bool has_else = at_name("else");
  advance();
  if (has_else) {
    expect_block_end("'else'");
    stmt->else_body = parse_wrapped_body("for", "endfor", line);
  } else {
    expect_block_end("'endfor'");
  }
  return stmt;
}

StmtPtr Parser::parse_set(int line) {
  auto stmt = std::make_unique<Stmt>();
  stmt->line = line;
  stmt->targets = parse_assign_targets("'set' target");
  if (stmt->targets.size() == 1 && skip_op(".")) stmt->target_attr = expect_name("'set' target attribute");
  if (skip_op("=")) {
    stmt->kind = StmtKind::set;
    stmt->expr = parse_tuple();
    expect_block_end("'set'");
    return stmt;
  }
  if (stmt->targets.size() != 1 || !stmt->target_attr.empty()) fail("a block 'set' assigns exactly one name");
  stmt->kind = StmtKind::set_block;
  if (at_op("|")) {
    ExprPtr chain = nullptr;
    while (at_op("|")) chain = parse_filter(std::move(chain));
    stmt->expr = std::move(chain);
  }
  expect_block_end("'set'");
  stmt->body = parse_wrapped_body("set", "endset", line);
  return stmt;
}

StmtPtr Parser::parse_macro(int line) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::macro;
  stmt->line = line;
  stmt->name = expect_name("'macro' name");
  expect_op("(", "'macro' parameters");
  while (!at_op(")")) {
    if (!stmt->params.empty()) expect_op(",", "'macro' parameters");
    if (at_op(")")) break;
    std::string param = expect_name("'macro' parameter");
    ExprPtr default_value = skip_op("=") ? parse_expression() : nullptr;
    stmt->params.emplace_back(param, std::move(default_value));
  }
  advance();
  expect_block_end("'macro'");
  stmt->body = parse_wrapped_body("macro", "endmacro", line);
  return stmt;
}

StmtPtr Parser::parse_filter_block(int line) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = StmtKind::filter_block;
  stmt->line = line;
  ExprPtr chain = nullptr;
  do {
    // The first filter has no '|' before it: fake one by parsing from its name.
    int filter_line = current().line;
    auto e = make_expr(ExprKind::filter, filter_line);
    e->name = expect_name("'filter' tag");
    e->args.push_back(std::move(chain));
    if (at_op("(")) parse_call_args(*e);
    chain = std::move(e);
  } while (skip_op("|"));
  stmt->expr = std::move(chain);
  expect_block_end("'filter'");
  stmt->body = parse_wrapped_body("filter", "endfilter", line);
  return stmt;
}

Body parse_template(const std::vector<Token>& tokens) {
  Parser parser(tokens);
  return parser.parse_body({}, "", 0);
}

}  // namespace moxie::tmpl
