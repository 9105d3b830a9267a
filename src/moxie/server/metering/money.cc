#include "moxie/server/metering/money.h"

#include <limits>

#include "moxie/core/error.h"

namespace moxie::metering {
namespace {
constexpr int kFractionDigits = 9;

[[noreturn]] void bad_amount(std::string_view text, std::string_view what, std::string_view why) {
  throw Error(std::string(what) + ": '" + std::string(text) + "' is not a dollar amount (" + std::string(why) + ")");
}
}  // namespace

Nanodollars parse_usd(std::string_view text, std::string_view what) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '$') s.remove_prefix(1);
  if (s.empty()) bad_amount(text, what, "empty");
  int64_t whole = 0, fraction = 0;
  int fraction_digits = 0;
  bool seen_point = false, seen_digit = false;
  for (char c : s) {
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') bad_amount(text, what, "expected digits and at most one '.'");
    seen_digit = true;
    const int digit = c - '0';
    if (seen_point) {
      if (++fraction_digits > kFractionDigits) bad_amount(text, what, "more than 9 decimals, finer than a nano-dollar");
      fraction = fraction * 10 + digit;
    } else {
      if (whole > (std::numeric_limits<int64_t>::max() / kNanodollarsPerDollar - digit) / 10)
        bad_amount(text, what, "too large");
      whole = whole * 10 + digit;
    }
  }
  if (!seen_digit) bad_amount(text, what, "no digits");
  for (int i = fraction_digits; i < kFractionDigits; ++i) fraction *= 10;
  return whole * kNanodollarsPerDollar + fraction;
}

std::string format_usd(Nanodollars amount) {
  // Work in unsigned so that the most negative value still formats.
  const bool negative = amount < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(amount) : static_cast<uint64_t>(amount);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / kNanodollarsPerDollar);
  uint64_t fraction = magnitude % kNanodollarsPerDollar;
  if (fraction == 0) return out;
  std::string digits = std::to_string(fraction);
  digits.insert(0, kFractionDigits - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  out += '.';
  out += digits;
  return out;
}

int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) throw Error(std::string(what) + ": amount overflows 64 bits");
  return product;
}

int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) throw Error(std::string(what) + ": amount overflows 64 bits");
  return sum;
}

}  // namespace moxie::metering
