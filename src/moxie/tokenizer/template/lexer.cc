#include "moxie/tokenizer/template/lexer.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

#include "moxie/core/error.h"
#include "moxie/tokenizer/template/utf8.h"

namespace moxie::tmpl {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// jinja2 joins the source's lines with "\n" and drops one trailing newline.
std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_source(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t open = find_tag_open(pos_);
      if (open == std::string::npos) {
        emit_text(src_.substr(pos_), false, false);
        break;
      }
      lex_tag(open);
    }
    push(TokenKind::end_of_input, "");
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("chat template line " + std::to_string(line_) + ": " + what);
  }

  void push(TokenKind kind, std::string text) { tokens_.push_back(Token{kind, std::move(text), 0, 0.0, line_}); }

  size_t find_tag_open(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  // Text before a tag: `sign` is the tag's '-' or '+' (or 0); lstrip_blocks applies to
  // block and comment tags only, and only when the text since the last newline (or since
  // a line start left by the previous tag) is all whitespace.
  void emit_text(std::string text, bool lstrip_allowed, char sign) {
    int newlines = count_newlines(text);
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0 && is_space(text[end - 1])) --end;
      text.resize(end);
    } else if (sign != '+' && lstrip_allowed) {
      size_t line_pos = text.rfind('\n');
      line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
      if (line_pos > 0 || line_starting_) {
        bool blank = line_pos < text.size();
        for (size_t i = line_pos; i < text.size(); ++i) blank = blank && is_space(text[i]);
        if (blank) text.resize(line_pos);
      }
    }
    if (!text.empty()) push(TokenKind::text, text);
    line_ += newlines;
  }

  char sign_at(size_t i) const { return i < src_.size() && (src_[i] == '-' || src_[i] == '+') ? src_[i] : 0; }

  void lex_tag(size_t open) {
    char kind = src_[open + 1];
    char sign = sign_at(open + 2);
    size_t after = open + 2 + (sign ? 1 : 0);
    std::string text = src_.substr(pos_, open - pos_);
    if (kind == '%' && raw_block_end_of_open(after) != std::string::npos) {
      emit_text(text, true, sign);
      pos_ = after;
      lex_raw(raw_block_end_of_open(after));
      return;
    }
    emit_text(text, kind != '{', sign);
    pos_ = after;
    line_starting_ = false;
    if (kind == '#') {
      lex_comment();
    } else {
      push(kind == '{' ? TokenKind::variable_begin : TokenKind::block_begin, "");
      lex_expression_tokens(kind == '{');
    }
  }

  // If `{%` is followed by `raw %}`, returns the position just after that opening tag.
  size_t raw_block_end_of_open(size_t i) const {
    while (i < src_.size() && is_space(src_[i])) ++i;
    if (src_.compare(i, 3, "raw") != 0) return std::string::npos;
    i += 3;
    while (i < src_.size() && is_space(src_[i])) ++i;
    if (src_.compare(i, 3, "-%}") == 0) {
      i += 3;
      while (i < src_.size() && is_space(src_[i])) ++i;
      return i;
    }
    return src_.compare(i, 2, "%}") == 0 ? i + 2 : std::string::npos;
  }

  // Matches a tag close at `i` ("+%}", "-%}" plus whitespace, or "%}" plus one newline);
  // returns the position after it, or npos.
  size_t match_close(size_t i, char mark) const {
    std::string plain = std::string(1, mark) + "}";
    if (src_.compare(i, 3, "+" + plain) == 0) return i + 3;
    if (src_.compare(i, 3, "-" + plain) == 0) {
      i += 3;
      while (i < src_.size() && is_space(src_[i])) ++i;
      return i;
    }
    if (src_.compare(i, 2, plain) == 0) return i + 2 + (i + 2 < src_.size() && src_[i + 2] == '\n' ? 1 : 0);
    return std::string::npos;
  }

  void finish_tag(size_t end) {
    line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_raw(size_t body_start) {
    line_ += count_newlines(std::string_view(src_).substr(pos_, body_start - pos_));
    line_starting_ = body_start > 0 && src_[body_start - 1] == '\n';
    for (size_t i = body_start; i + 1 < src_.size(); ++i) {
      if (src_[i] != '{' || src_[i + 1] != '%') continue;
      char sign = sign_at(i + 2);
      size_t j = i + 2 + (sign ? 1 : 0);
      while (j < src_.size() && is_space(src_[j])) ++j;
      if (src_.compare(j, 6, "endraw") != 0) continue;
      j += 6;
      while (j < src_.size() && is_space(src_[j])) ++j;
      size_t end = match_close(j, '%');
      if (end == std::string::npos) continue;
      emit_text(src_.substr(body_start, i - body_start), true, sign);
      pos_ = i;
      finish_tag(end);
      return;
    }
    fail("missing end of raw directive ({% endraw %})");
  }

  void lex_comment() {
    for (size_t i = pos_; i < src_.size(); ++i) {
      size_t end = match_close(i, '#');
      if (end == std::string::npos) continue;
      finish_tag(end);
      return;
    }
    fail("missing end of comment tag ('#}')");
  }

  void lex_expression_tokens(bool is_variable);
  bool lex_number();
  void lex_string();
  void lex_operator();

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  std::string brackets_;  // closing brackets expected, innermost last
};

void Lexer::lex_expression_tokens(bool is_variable) {
  const char* construct = is_variable ? "'{{ ... }}'" : "'{% ... %}'";
  for (;;) {
    if (pos_ >= src_.size()) fail(std::string("unexpected end of template inside ") + construct);
    if (brackets_.empty()) {
      size_t end = is_variable ? std::string::npos : match_close(pos_, '%');
      if (is_variable) {
        if (src_.compare(pos_, 3, "-}}") == 0) {
          end = pos_ + 3;
          while (end < src_.size() && is_space(src_[end])) ++end;
        } else if (src_.compare(pos_, 2, "}}") == 0) {
          end = pos_ + 2;
        }
      }
      if (end != std::string::npos) {
        push(is_variable ? TokenKind::variable_end : TokenKind::block_end, "");
        finish_tag(end);
        return;
      }
    }
    char c = src_[pos_];
    if (is_space(c)) {
      line_ += c == '\n';
      ++pos_;
    } else if (is_digit(c)) {
      if (!lex_number()) fail("malformed number");
    } else if (is_name_start(c)) {
      size_t start = pos_;
      while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
      push(TokenKind::name, src_.substr(start, pos_ - start));
    } else if (c == '\'' || c == '"') {
      lex_string();
    } else {
      lex_operator();
    }
  }
}

// Python number syntax as jinja2 accepts it: 12, 1_000, 0x1f, 0b10, 0o7, 1.5, 2e-3.
bool Lexer::lex_number() {
  size_t start = pos_;
  auto digits = [&] {
    size_t begin = pos_;
    while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() &&
                                                           is_digit(src_[pos_ + 1]) && pos_ > begin)))
      ++pos_;
    return pos_ > begin;
  };
  bool after_dot = start > 0 && src_[start - 1] == '.';
  if (src_[pos_] == '0' && pos_ + 1 < src_.size() && src_[pos_ + 1] != 0 && std::strchr("xXoObB", src_[pos_ + 1])) {
    int base = std::tolower(src_[pos_ + 1]) == 'x' ? 16 : std::tolower(src_[pos_ + 1]) == 'o' ? 8 : 2;
    pos_ += 2;
    std::string body;
    while (pos_ < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_'))
      if (src_[pos_++] != '_') body += src_[pos_ - 1];
    if (body.empty()) return false;
    push(TokenKind::integer, src_.substr(start, pos_ - start));
    tokens_.back().int_value = std::strtoll(body.c_str(), nullptr, base);
    return true;
  }
  digits();
  bool is_float = false;
  if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
    ++pos_;
    digits();
    is_float = true;
  }
  if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
    size_t save = pos_++;
    if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
    if (digits()) is_float = true;
    else pos_ = save;
  }
  std::string text;
  for (size_t i = start; i < pos_; ++i)
    if (src_[i] != '_') text += src_[i];
  push(is_float ? TokenKind::floating : TokenKind::integer, src_.substr(start, pos_ - start));
  if (is_float) tokens_.back().float_value = std::strtod(text.c_str(), nullptr);
  else tokens_.back().int_value = std::strtoll(text.c_str(), nullptr, 10);
  return true;
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// Python's unicode-escape decoding, which jinja2 applies to string literals.
void Lexer::lex_string() {
  char quote = src_[pos_];
  int start_line = line_;
  std::string value;
  size_t i = pos_ + 1;
  for (;;) {
    if (i >= src_.size()) {
      line_ = start_line;
      fail("unterminated string literal");
    }
    char c = src_[i];
    if (c == quote) break;
    if (c == '\n') ++line_;
    if (c != '\\' || i + 1 >= src_.size()) {
      value += c;
      ++i;
      continue;
    }
    char e = src_[i + 1];
    i += 2;
    static const std::string simple = "\\'\"abfnrtv";
    static const char simple_value[] = {'\\', '\'', '"', '\a', '\b', '\f', '\n', '\r', '\t', '\v'};
    size_t k = simple.find(e);
    if (k != std::string::npos) {
      value += simple_value[k];
    } else if (e == '\n') {
      ++line_;  // backslash-newline continues the line
    } else if (e >= '0' && e <= '7') {
      int code = e - '0';
      for (int n = 0; n < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++n) code = code * 8 + (src_[i++] - '0');
      utf8_append(value, static_cast<uint32_t>(code));
    } else if (e == 'x' || e == 'u' || e == 'U') {
      int n_hex = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      uint32_t code = 0;
      for (int n = 0; n < n_hex; ++n) {
        int h = i < src_.size() ? hex_value(src_[i]) : -1;
        if (h < 0) fail(std::string("truncated \\") + e + " escape in string literal");
        code = code * 16 + static_cast<uint32_t>(h);
        ++i;
      }
      if (code > 0x10FFFF) fail("escape in string literal is not a valid code point");
      utf8_append(value, code);
    } else {
      value += '\\';
      value += e;
    }
  }
  Token token{TokenKind::string, value, 0, 0.0, start_line};
  tokens_.push_back(std::move(token));
  pos_ = i + 1;
}

void Lexer::lex_operator() {
  static const char* const two_char[] = {"//", "**", "==", "!=", ">=", "<="};
  for (const char* op : two_char) {
    if (src_.compare(pos_, 2, op) == 0) {
      push(TokenKind::op, op);
      pos_ += 2;
      return;
    }
  }
  char c = src_[pos_];
  if (c == 0 || !std::strchr("+-/*%~[](){}><=.:|,;", c)) fail(std::string("unexpected character '") + c + "' in tag");
  if (c == '(' || c == '[' || c == '{') brackets_ += c == '(' ? ')' : c == '[' ? ']' : '}';
  if (c == ')' || c == ']' || c == '}') {
    if (brackets_.empty()) fail(std::string("unexpected '") + c + "'");
    if (brackets_.back() != c) fail(std::string("unexpected '") + c + "', expected '" + brackets_.back() + "'");
    brackets_.pop_back();
  }
  push(TokenKind::op, std::string(1, c));
  ++pos_;
}

}  // namespace

std::vector<Token> lex_template(std::string_view source) { return Lexer(source).run(); }

}  // namespace moxie::tmpl
