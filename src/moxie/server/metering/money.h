#pragma once
// Money in exact integers. One unit is a nano-dollar (1e-9 USD): a price of
// $0.14 per million tokens is 140'000'000 nano-dollars per million tokens, so
// every published price to nine decimal places is exact and no floating point
// ever touches an amount that is billed.
#include <cstdint>
#include <string>
#include <string_view>

namespace moxie::metering {

using Nanodollars = int64_t;
inline constexpr Nanodollars kNanodollarsPerDollar = 1'000'000'000;

// Parses a non-negative decimal dollar amount ("10", "0.14", "$2.50", "1e-3" is
// rejected) with at most nine decimals. `what` names the field for the error.
Nanodollars parse_usd(std::string_view text, std::string_view what);

// Formats an amount as dollars with the trailing zeros of the fraction removed:
// 140'000'000 -> "0.14", 10'000'000'000 -> "10", -5 -> "-0.000000005".
std::string format_usd(Nanodollars amount);

// a * b and a + b for non-negative amounts, throwing moxie::Error naming `what`
// instead of wrapping around.
int64_t checked_mul(int64_t a, int64_t b, std::string_view what);
int64_t checked_add(int64_t a, int64_t b, std::string_view what);

}  // namespace moxie::metering
