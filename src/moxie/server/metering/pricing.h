#pragma once
// Price sheet: dollars per million input, cached-input and output tokens, per model,
// and the exact integer cost of a request.
//
// Rounding rule (documented in docs/operations.md): a request's cost is the exact sum
//   prompt_uncached * input + cached * cached_input + completion * output
// in units of 1e-6 nano-dollars (prices are per million tokens), rounded UP once, per
// request, to a whole nano-dollar. Rounding once per request (never per token or per
// category) keeps the error below one nano-dollar per request, and rounding up means
// the ledger never bills less than the published prices.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "moxie/server/metering/money.h"

namespace moxie::metering {

struct ModelPrice {
  Nanodollars input_per_million = 0;         // uncached prompt tokens
  Nanodollars cached_input_per_million = 0;  // prompt tokens served from the prefix cache
  Nanodollars output_per_million = 0;        // completion tokens
};

struct TokenCounts {
  int64_t prompt = 0;      // all prompt tokens, cached ones included (as OpenAI counts them)
  int64_t cached = 0;      // of which served from the cache; 0 <= cached <= prompt
  int64_t completion = 0;
};

// Exact cost, rounded up to a nano-dollar. Throws moxie::Error for negative counts,
// cached > prompt, or a sum that does not fit 64 bits.
Nanodollars cost_of(const ModelPrice& price, const TokenCounts& tokens);

// The most a request can cost before it runs: every prompt token uncached and every
// one of max_completion tokens generated. What the budget reservation holds.
Nanodollars max_cost_of(const ModelPrice& price, int64_t prompt_tokens, int64_t max_completion_tokens);

class PriceSheet {
 public:
  // JSON object, e.g.
  //   {"models": {"big-moe": {"input_per_million_usd": "10", "cached_input_per_million_usd": "2.5",
  //                           "output_per_million_usd": "30"}},
  //    "default": {"input_per_million_usd": "0", ...}}
  // Prices are strings (or JSON integers) so that no float ever rounds them.
  // `source` names the file in errors.
  static PriceSheet from_json(std::string_view json_text, std::string_view source);
  static PriceSheet from_file(const std::string& path);

  void set(const std::string& model, const ModelPrice& price) { models_[model] = price; }
  void set_default(const ModelPrice& price) { default_ = price; }

  // The model's price; the default for models not listed; all zero (free) when no
  // default is configured either.
  ModelPrice price_for(std::string_view model) const;
  const std::map<std::string, ModelPrice, std::less<>>& models() const { return models_; }
  const std::optional<ModelPrice>& default_price() const { return default_; }

 private:
  std::map<std::string, ModelPrice, std::less<>> models_;
  std::optional<ModelPrice> default_;
};

// {"input_per_million_usd": "0.14", "cached_input_per_million_usd": "0.014",
//  "output_per_million_usd": "0.28"}: what /v1/models shows as a model's pricing.
std::string price_json(const ModelPrice& price);

}  // namespace moxie::metering
