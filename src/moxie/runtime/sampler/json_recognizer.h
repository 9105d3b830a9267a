#pragma once
// JsonRecognizer: a byte-at-a-time pushdown recogniser for "a prefix of one JSON object"
// (RFC 8259, top level an object), the core of JSON mode. push() accepts a byte exactly
// when the text so far can still be completed into a document that a strict parser
// (nlohmann::json, which also checks UTF-8, surrogate pairs and number overflow) accepts.
// Every state it can reach therefore has at least one way forward: a sampler that only
// picks accepted tokens can never paint itself into a corner.
//
// Beyond the grammar it enforces limits that keep a model from looping or overflowing:
// nesting depth, consecutive whitespace outside strings, and digits per number part (so
// every number fits a double: at most 20 integer digits and a 2-digit exponent).
//
// The recogniser is a small trivially-copyable value (no heap): to test a candidate token,
// copy it and push the token's bytes into the copy.
#include <cstdint>
#include <string_view>

namespace moxie {

struct JsonLimits {
  int max_depth = 64;            // open objects + arrays, 1..64 (one bit each in a uint64_t)
  int max_whitespace_run = 32;   // consecutive whitespace bytes outside strings, 1..255 (a newline + indent)
  int max_int_digits = 20;       // digits before the '.', 1..20
  int max_frac_digits = 20;      // digits after the '.', >= 1
  int max_exp_digits = 2;        // digits of the exponent, 1..2
};

class JsonRecognizer {
 public:
  // Throws moxie::Error naming the limit when one is out of range.
  explicit JsonRecognizer(const JsonLimits& limits = {});

  // Consumes one byte; false when it would break the prefix. After false the state is
  // unspecified: callers test on a copy.
  bool push(uint8_t byte);
  // Consumes bytes up to the first one that breaks the prefix; false if there is one.
  bool push(std::string_view bytes) {
    for (char c : bytes)
      if (!push(uint8_t(c))) return false;
    return true;
  }

  // The top-level object has closed: the text is a complete document (only whitespace may follow).
  bool complete() const { return mode_ == Mode::done; }
  // Inside a string with no escape or multi-byte character under way: any printable,
  // complete UTF-8 text without '"' or '\' keeps the state exactly as it is.
  bool in_plain_string() const { return mode_ == Mode::string && utf8_left_ == 0 && !need_low_surrogate_; }
  int depth() const { return depth_; }

 private:
  enum class Mode : uint8_t {
    start,           // before the top-level '{'
    value,           // a value must come (after ':' or an array's ',')
    value_or_close,  // just after '[': a value or ']'
    key_or_close,    // just after '{': a key or '}'
    key,             // after an object's ',': a key
    colon,           // after a key
    comma_or_close,  // after a value inside an object or array
    string,
    escape,   // after '\' in a string
    unicode,  // inside \uXXXX
    number,
    literal,  // true, false, null
    done,     // the top-level object has closed
  };
  enum class NumberPhase : uint8_t { minus, zero, integer, dot, fraction, exp_mark, exp_sign, exponent };

  bool structural_byte(uint8_t c);
  bool start_value(uint8_t c);
  bool open(bool object);
  bool close(bool object);
  void value_done() { mode_ = depth_ == 0 ? Mode::done : Mode::comma_or_close; }
  bool top_is_object() const { return (stack_ >> (depth_ - 1)) & 1u; }
  bool string_byte(uint8_t c);
  bool escape_byte(uint8_t c);
  bool unicode_byte(uint8_t c);
  bool number_byte(uint8_t c);
  bool literal_byte(uint8_t c);

  JsonLimits limits_;
  uint64_t stack_ = 0;  // bit i: level i is an object (else an array)
  Mode mode_ = Mode::start;
  NumberPhase number_phase_ = NumberPhase::minus;
  uint8_t depth_ = 0;
  uint8_t whitespace_run_ = 0;
  uint8_t number_digits_ = 0;  // digits in the current number part
  bool string_is_key_ = false;
  uint8_t utf8_left_ = 0;                     // continuation bytes still due
  uint8_t utf8_lo_ = 0x80, utf8_hi_ = 0xBF;   // range of the next continuation byte
  uint8_t hex_index_ = 0;                     // \uXXXX digits read so far
  uint8_t hex_first_ = 0;                     // the first hex digit's value
  bool need_low_surrogate_ = false;           // a \uD800-\uDBFF wants its \uDC00-\uDFFF
  uint8_t literal_ = 0, literal_pos_ = 0;     // which of true/false/null, bytes matched
};

}  // namespace moxie
