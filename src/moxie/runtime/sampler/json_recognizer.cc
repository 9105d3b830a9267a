#include "moxie/runtime/sampler/json_recognizer.h"

#include <string>

#include "moxie/core/error.h"

namespace moxie {
namespace {

constexpr std::string_view kLiterals[3] = {"true", "false", "null"};

bool is_whitespace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void require_limit(bool ok, const char* name, const char* range) {
  if (!ok) throw Error(std::string("JSON mode: limit ") + name + " must be " + range);
}

}  // namespace

JsonRecognizer::JsonRecognizer(const JsonLimits& limits) : limits_(limits) {
  require_limit(limits.max_depth >= 1 && limits.max_depth <= 64, "max_depth", "in 1..64");
  require_limit(limits.max_whitespace_run >= 1 && limits.max_whitespace_run <= 255, "max_whitespace_run", "in 1..255");
  require_limit(limits.max_int_digits >= 1 && limits.max_int_digits <= 20, "max_int_digits", "in 1..20");
  require_limit(limits.max_frac_digits >= 1 && limits.max_frac_digits <= 255, "max_frac_digits", "in 1..255");
  require_limit(limits.max_exp_digits >= 1 && limits.max_exp_digits <= 2, "max_exp_digits", "in 1..2");
}

bool JsonRecognizer::push(uint8_t c) {
  switch (mode_) {
    case Mode::string: return string_byte(c);
    case Mode::escape: return escape_byte(c);
    case Mode::unicode: return unicode_byte(c);
    case Mode::number: return number_byte(c);
    case Mode::literal: return literal_byte(c);
    default: return structural_byte(c);
  }
}

// Whitespace, punctuation and the first byte of a value: every mode outside a token.
bool JsonRecognizer::structural_byte(uint8_t c) {
  if (is_whitespace(c)) {
    if (whitespace_run_ >= limits_.max_whitespace_run) return false;
    ++whitespace_run_;
    return true;
  }
  whitespace_run_ = 0;
  switch (mode_) {
    case Mode::start: return c == '{' && open(true);
    case Mode::value_or_close:
      if (c == ']') return close(false);
      return start_value(c);
    case Mode::value: return start_value(c);
    case Mode::key_or_close:
      if (c == '}') return close(true);
      [[fallthrough]];
    case Mode::key:
      if (c != '"') return false;
      mode_ = Mode::string;
      string_is_key_ = true;
      return true;
    case Mode::colon:
      if (c != ':') return false;
      mode_ = Mode::value;
      return true;
    case Mode::comma_or_close:
      if (c == ',') {
        mode_ = top_is_object() ? Mode::key : Mode::value;
        return true;
      }
      if (c == '}' || c == ']') return close(c == '}');
      return false;
    default: return false;  // done: only whitespace may follow
  }
}

bool JsonRecognizer::start_value(uint8_t c) {
  switch (c) {
    case '{': return open(true);
    case '[': return open(false);
    case '"':
      mode_ = Mode::string;
      string_is_key_ = false;
      return true;
    case '-':
    case '0':
      mode_ = Mode::number;
      number_phase_ = c == '-' ? NumberPhase::minus : NumberPhase::zero;
      number_digits_ = c == '0';
      return true;
    case 't':
    case 'f':
    case 'n':
      mode_ = Mode::literal;
      literal_ = c == 't' ? 0 : c == 'f' ? 1 : 2;
      literal_pos_ = 1;
      return true;
    default:
      if (c < '1' || c > '9') return false;
      mode_ = Mode::number;
      number_phase_ = NumberPhase::integer;
      number_digits_ = 1;
      return true;
  }
}

bool JsonRecognizer::open(bool object) {
  if (depth_ >= limits_.max_depth) return false;
  const uint64_t bit = uint64_t(1) << depth_;
  stack_ = object ? stack_ | bit : stack_ & ~bit;
  ++depth_;
  mode_ = object ? Mode::key_or_close : Mode::value_or_close;
  return true;
}

bool JsonRecognizer::close(bool object) {
  if (depth_ == 0 || top_is_object() != object) return false;
  --depth_;
  value_done();
  return true;
}

// String content: printable bytes, escapes, and UTF-8 as RFC 3629 allows it (no overlong
// forms, no encoded surrogates, nothing above U+10FFFF).
bool JsonRecognizer::string_byte(uint8_t c) {
  if (utf8_left_ > 0) {
    if (c < utf8_lo_ || c > utf8_hi_) return false;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
    --utf8_left_;
    return true;
  }
  if (need_low_surrogate_) {  // only "\uDC00".."\uDFFF" may follow a high surrogate
    if (c != '\\') return false;
    mode_ = Mode::escape;
    return true;
  }
  if (c == '"') {
    if (string_is_key_) {
      mode_ = Mode::colon;
    } else {
      value_done();
    }
    return true;
  }
  if (c == '\\') {
    mode_ = Mode::escape;
    return true;
  }
  if (c < 0x20) return false;  // control characters must be escaped
  if (c < 0x80) return true;
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    utf8_left_ = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    utf8_left_ = 2;
    if (c == 0xE0) utf8_lo_ = 0xA0;  // overlong
    if (c == 0xED) utf8_hi_ = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    utf8_left_ = 3;
    if (c == 0xF0) utf8_lo_ = 0x90;  // overlong
    if (c == 0xF4) utf8_hi_ = 0x8F;  // above U+10FFFF
  } else {
    return false;  // a stray continuation byte, C0/C1 or F5..FF
  }
  return true;
}

bool JsonRecognizer::escape_byte(uint8_t c) {
  if (c == 'u') {
    mode_ = Mode::unicode;
    hex_index_ = 0;
    return true;
  }
  if (need_low_surrogate_) return false;
  switch (c) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      mode_ = Mode::string;
      return true;
    default: return false;
  }
}

// \uXXXX: a high surrogate (D800-DBFF) must be followed by a low one (DC00-DFFF), and a
// low one may not stand alone; both are decided by the first two digits.
bool JsonRecognizer::unicode_byte(uint8_t c) {
  const int h = hex_value(c);
  if (h < 0) return false;
  if (hex_index_ == 0) {
    if (need_low_surrogate_ && h != 0xD) return false;
    hex_first_ = uint8_t(h);
  } else if (hex_index_ == 1 && hex_first_ == 0xD) {
    const bool low = h >= 0xC, high = h >= 0x8 && h <= 0xB;
    if (need_low_surrogate_ ? !low : low) return false;
    if (high) need_low_surrogate_ = true;  // decided now; the pair completes later
    else if (low) need_low_surrogate_ = false;
  }
  if (++hex_index_ == 4) mode_ = Mode::string;
  return true;
}

// -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)? with digit limits per part. A byte that
// cannot extend a finished number ends it and is read as punctuation.
bool JsonRecognizer::number_byte(uint8_t c) {
  const bool digit = is_digit(c), exp_mark = c == 'e' || c == 'E';
  auto digit_in = [&](NumberPhase phase, int limit) {
    if (number_phase_ != phase) number_digits_ = 0;
    if (number_digits_ >= limit) return false;
    number_phase_ = phase;
    ++number_digits_;
    return true;
  };
  switch (number_phase_) {
    case NumberPhase::minus:
      if (!digit) return false;
      number_phase_ = c == '0' ? NumberPhase::zero : NumberPhase::integer;
      number_digits_ = 1;
      return true;
    case NumberPhase::zero:
    case NumberPhase::integer:
      if (digit && number_phase_ == NumberPhase::integer) return digit_in(NumberPhase::integer, limits_.max_int_digits);
      if (digit) return false;  // no leading zeros
      if (c == '.') return number_phase_ = NumberPhase::dot, true;
      if (exp_mark) return number_phase_ = NumberPhase::exp_mark, true;
      break;
    case NumberPhase::dot: return digit && digit_in(NumberPhase::fraction, limits_.max_frac_digits);
    case NumberPhase::fraction:
      if (digit) return digit_in(NumberPhase::fraction, limits_.max_frac_digits);
      if (exp_mark) return number_phase_ = NumberPhase::exp_mark, true;
      break;
    case NumberPhase::exp_mark:
      if (c == '+' || c == '-') return number_phase_ = NumberPhase::exp_sign, true;
      [[fallthrough]];
    case NumberPhase::exp_sign: return digit && digit_in(NumberPhase::exponent, limits_.max_exp_digits);
    case NumberPhase::exponent:
      if (digit) return digit_in(NumberPhase::exponent, limits_.max_exp_digits);
      break;
  }
  if (digit) return false;  // a digit over the limit cannot end the number
  value_done();
  return structural_byte(c);
}

bool JsonRecognizer::literal_byte(uint8_t c) {
  const std::string_view word = kLiterals[literal_];
  if (c != uint8_t(word[literal_pos_])) return false;
  if (++literal_pos_ == word.size()) value_done();
  return true;
}

}  // namespace moxie
