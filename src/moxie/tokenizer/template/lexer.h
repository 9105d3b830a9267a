#pragma once
// Splits a template into text and tag tokens the way jinja2's lexer does under Hugging
// Face's settings (trim_blocks, lstrip_blocks, no trailing newline kept): whitespace
// control ({%- -%} {%+ +%}) is applied here, comments and {% raw %} are resolved here,
// and the parser only sees text, tag delimiters and expression tokens.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moxie::tmpl {

enum class TokenKind {
  text,            // literal output
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,
  string,          // value already unescaped
  integer,
  floating,
  op,              // operator or punctuation: + - // ** == ( [ { . , | ...
  end_of_input,
};

struct Token {
  TokenKind kind;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

// Throws moxie::Error naming the line for unterminated tags, comments, strings, raw
// blocks, unbalanced brackets and characters that cannot start a token.
std::vector<Token> lex_template(std::string_view source);

}  // namespace moxie::tmpl
