#pragma once
// models.toml: several models in one `moxie serve --config models.toml`, each with its own
// alias, context size, parallel slots, queue and price (docs/serving.md shows an example):
//
//   [[model]]
//   path = "models/flagship.gguf"        # relative paths are relative to this file
//   alias = "flagship-moe"               # default: the file name without .gguf
//   ctx_size = 8192                      # default: --ctx-size, else min(4096, training)
//   parallel = 4                         # default: --parallel
//   queue = 64                           # default: --queue
//   input_per_million_usd = "10"         # prices: strings, as in the JSON price sheet
//   cached_input_per_million_usd = "2.5" # default: the input price
//   output_per_million_usd = "30"
//
// Read with parse_toml_subset (toml_subset.h); every error names the file, the line and
// the key.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/server/http_server.h"
#include "moxie/server/metering/pricing.h"

namespace moxie::server {

struct ConfiguredModel {
  ModelSpec spec;                          // alias always filled in
  std::optional<metering::ModelPrice> price;  // none: no price given in the file
};

// `defaults` supplies the engine options a model does not set. base_dir resolves relative
// paths. Throws moxie::Error "<source>:<line>: key '<key>': ...".
std::vector<ConfiguredModel> parse_model_config(std::string_view text, std::string_view source,
                                                const std::string& base_dir, const EngineOptions& defaults);
std::vector<ConfiguredModel> load_model_config(const std::string& path, const EngineOptions& defaults);

}  // namespace moxie::server
