#include "moxie/server/metering/pricing.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie::metering {
namespace {
constexpr int64_t kTokensPerMillion = 1'000'000;

// The exact cost before rounding, in 1e-6 nano-dollars, as a 128-bit sum: even
// 2^62 tokens at $1000 per million cannot overflow it.
__int128 exact_micro_nanodollars(const ModelPrice& p, const TokenCounts& t) {
  const __int128 uncached = t.prompt - t.cached;
  return uncached * p.input_per_million + static_cast<__int128>(t.cached) * p.cached_input_per_million +
         static_cast<__int128>(t.completion) * p.output_per_million;
}

Nanodollars parse_price_field(const nlohmann::json& entry, const char* field, const std::string& where) {
  if (!entry.contains(field)) return 0;
  const nlohmann::json& v = entry.at(field);
  const std::string what = where + "." + field;
  if (v.is_string()) return parse_usd(v.get<std::string>(), what);
  if (v.is_number_unsigned()) return checked_mul(v.get<int64_t>(), kNanodollarsPerDollar, what);
  throw Error(what + ": give the price as a string such as \"0.14\" (a JSON float could round it)");
}

ModelPrice parse_price(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw Error(where + ": expected an object of prices");
  for (const auto& [field, value] : entry.items()) {
    if (field != "input_per_million_usd" && field != "cached_input_per_million_usd" &&
        field != "output_per_million_usd")
      throw Error(where + ": unknown field '" + field + "'");
  }
  ModelPrice p;
  p.input_per_million = parse_price_field(entry, "input_per_million_usd", where);
  p.output_per_million = parse_price_field(entry, "output_per_million_usd", where);
  // A cache hit costs what an input token costs unless the sheet says otherwise.
  p.cached_input_per_million = entry.contains("cached_input_per_million_usd")
                                   ? parse_price_field(entry, "cached_input_per_million_usd", where)
                                   : p.input_per_million;
  return p;
}
}  // namespace

Nanodollars cost_of(const ModelPrice& price, const TokenCounts& tokens) {
  if (tokens.prompt < 0 || tokens.cached < 0 || tokens.completion < 0)
    throw Error("token counts must not be negative");
  if (tokens.cached > tokens.prompt) throw Error("cached tokens exceed prompt tokens");
  const __int128 exact = exact_micro_nanodollars(price, tokens);
  const __int128 rounded_up = (exact + kTokensPerMillion - 1) / kTokensPerMillion;
  if (rounded_up > INT64_MAX) throw Error("request cost overflows 64 bits of nano-dollars");
  return static_cast<Nanodollars>(rounded_up);
}

Nanodollars max_cost_of(const ModelPrice& price, int64_t prompt_tokens, int64_t max_completion_tokens) {
  return cost_of(price, TokenCounts{prompt_tokens, 0, max_completion_tokens});
}

PriceSheet PriceSheet::from_json(std::string_view json_text, std::string_view source) {
  const std::string src(source);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(src + ": not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!doc.is_object()) throw Error(src + ": expected a JSON object with \"models\"");
  PriceSheet sheet;
  for (const auto& [field, value] : doc.items()) {
    if (field == "models") {
      if (!value.is_object()) throw Error(src + ": \"models\" must be an object keyed by model name");
      for (const auto& [model, entry] : value.items())
        sheet.set(model, parse_price(entry, src + ": models." + model));
    } else if (field == "default") {
      sheet.set_default(parse_price(value, src + ": default"));
    } else {
      throw Error(src + ": unknown field '" + field + "'");
    }
  }
  return sheet;
}

PriceSheet PriceSheet::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open price sheet");
  std::ostringstream text;
  text << in.rdbuf();
  return from_json(text.str(), path);
}

ModelPrice PriceSheet::price_for(std::string_view model) const {
  if (auto it = models_.find(model); it != models_.end()) return it->second;
  return default_.value_or(ModelPrice{});
}

std::string price_json(const ModelPrice& price) {
  nlohmann::json j = {{"input_per_million_usd", format_usd(price.input_per_million)},
                      {"cached_input_per_million_usd", format_usd(price.cached_input_per_million)},
                      {"output_per_million_usd", format_usd(price.output_per_million)}};
  return j.dump();
}

}  // namespace moxie::metering
