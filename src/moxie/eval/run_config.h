#pragma once
// The run config of `moxie eval --config run.toml`: models x tasks. Documented in
// docs/eval.md; every key is checked and errors name the file and the key, e.g.
// "run.toml: models[1].url: ...".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/eval/openai_backend.h"
#include "moxie/eval/task.h"
#include "moxie/server/metering/pricing.h"

namespace moxie::eval {

struct ModelEntry {
  std::string name;               // how tables and records call it (unique)
  std::string gguf;               // a local model; or
  EndpointOptions endpoint;       // endpoint.url non-empty: an OpenAI-compatible endpoint
  metering::ModelPrice price;     // per million tokens; zero: free
  int64_t n_ctx = 0;              // local: context per sequence (0: the model's)
  bool is_endpoint() const { return !endpoint.url.empty(); }
};

struct RunConfig {
  std::string output_dir;   // results.json, journal.jsonl, table.txt, chart.png
  int threads = 0;          // local models' thread pool (0: all cores)
  std::vector<ModelEntry> models;
  std::vector<TaskSpec> tasks;
  std::string settings_json;  // every setting, as the results JSON and the journal record it
};

// Relative paths (output, gguf, task paths) are taken from the config file's folder.
// api_key_env names an environment variable read here. Throws moxie::Error naming the
// file and the key.
RunConfig load_run_config(const std::string& path);
RunConfig parse_run_config(std::string_view toml_text, const std::string& source, const std::string& base_dir);

}  // namespace moxie::eval
