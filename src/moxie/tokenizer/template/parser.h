#pragma once
// Recursive-descent parser for the Jinja subset chat templates use, with jinja2's
// operator precedence. Errors are moxie::Error naming the line and the construct.
#include <vector>

#include "moxie/tokenizer/template/ast.h"
#include "moxie/tokenizer/template/lexer.h"

namespace moxie::tmpl {

// Deepest nesting of blocks and expressions accepted; deeper input is rejected with an
// error rather than risking the stack.
inline constexpr int kMaxParseDepth = 128;

Body parse_template(const std::vector<Token>& tokens);

}  // namespace moxie::tmpl
