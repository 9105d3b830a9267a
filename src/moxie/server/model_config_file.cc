#include "moxie/server/model_config_file.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "moxie/core/error.h"
#include "moxie/server/metering/money.h"
#include "moxie/server/toml_subset.h"

namespace moxie::server {
namespace {

const std::set<std::string> kModelKeys = {"path",     "alias", "ctx_size", "parallel", "queue", "input_per_million_usd",
                                          "cached_input_per_million_usd", "output_per_million_usd"};

// Reads one [[model]] table's typed values, naming the line and key in every error.
class ModelTableReader {
 public:
  ModelTableReader(const TomlTable& table, std::string_view source) : table_(table), source_(source) {}

  [[noreturn]] void fail(int line, const std::string& key, const std::string& what) const {
    throw Error(std::string(source_) + ":" + std::to_string(line) + ": key '" + key + "': " + what);
  }
  const TomlValue* find(const std::string& key, TomlValue::Kind kind) const {
    auto it = table_.values.find(key);
    if (it == table_.values.end()) return nullptr;
    if (it->second.kind != kind)
      fail(it->second.line, key, std::string("expected ") + toml_kind_name(kind) + ", got " + toml_kind_name(it->second.kind));
    return &it->second;
  }
  std::optional<std::string> string(const std::string& key) const {
    const TomlValue* v = find(key, TomlValue::Kind::string);
    if (!v) return std::nullopt;
    if (v->string.empty()) fail(v->line, key, "must not be empty");
    return v->string;
  }
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi) const {
    const TomlValue* v = find(key, TomlValue::Kind::integer);
    if (!v) return std::nullopt;
    if (v->integer < lo || v->integer > hi)
      fail(v->line, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                             std::to_string(v->integer));
    return v->integer;
  }
  std::optional<metering::Nanodollars> usd(const std::string& key) const {
    const TomlValue* v = find(key, TomlValue::Kind::string);
    if (!v) return std::nullopt;
    return metering::parse_usd(v->string, std::string(source_) + ":" + std::to_string(v->line) + ": key '" + key + "'");
  }
  void check_keys() const {
    for (const auto& [key, value] : table_.values)
      if (!kModelKeys.count(key))
        fail(value.line, key, "unknown key in [[model]] (expected path, alias, ctx_size, parallel, queue, "
                              "input_per_million_usd, cached_input_per_million_usd, output_per_million_usd)");
  }

 private:
  const TomlTable& table_;
  std::string_view source_;
};

std::optional<metering::ModelPrice> read_price(const ModelTableReader& r, const TomlTable& table, std::string_view source) {
  const auto input = r.usd("input_per_million_usd");
  const auto cached = r.usd("cached_input_per_million_usd");
  const auto output = r.usd("output_per_million_usd");
  if (!input && !cached && !output) return std::nullopt;
  if (!input || !output)
    throw Error(std::string(source) + ":" + std::to_string(table.line) + ": [[model]] '" + table.values.at("path").string +
                "': a price needs both input_per_million_usd and output_per_million_usd");
  return metering::ModelPrice{*input, cached.value_or(*input), *output};
}

ConfiguredModel read_model(const TomlTable& table, std::string_view source, const std::string& base_dir,
                           const EngineOptions& defaults) {
  const ModelTableReader r(table, source);
  r.check_keys();
  ConfiguredModel m;
  const std::optional<std::string> path = r.string("path");
  if (!path) throw Error(std::string(source) + ":" + std::to_string(table.line) + ": [[model]] needs a 'path'");
  std::filesystem::path p(*path);
  m.spec.path = p.is_absolute() || base_dir.empty() ? p.string() : (std::filesystem::path(base_dir) / p).string();
  m.spec.alias = r.string("alias").value_or(p.stem().string());
  m.spec.engine = defaults;
  m.spec.engine.n_ctx = r.integer("ctx_size", 1, int64_t(1) << 24).value_or(defaults.n_ctx);
  m.spec.engine.n_parallel = int(r.integer("parallel", 1, 1024).value_or(defaults.n_parallel));
  m.spec.engine.max_queue = r.integer("queue", 0, 100000).value_or(defaults.max_queue);
  m.price = read_price(r, table, source);
  return m;
}

}  // namespace

std::vector<ConfiguredModel> parse_model_config(std::string_view text, std::string_view source,
                                                const std::string& base_dir, const EngineOptions& defaults) {
  const TomlDocument doc = parse_toml_subset(text, source);
  if (!doc.root.values.empty()) {
    const auto& [key, value] = *doc.root.values.begin();
    throw Error(std::string(source) + ":" + std::to_string(value.line) + ": key '" + key +
                "': keys belong inside a [[model]] table");
  }
  std::vector<ConfiguredModel> models;
  std::set<std::string> aliases;
  for (const TomlTable& table : doc.tables) {
    if (table.name != "model" || !table.array_item)
      throw Error(std::string(source) + ":" + std::to_string(table.line) + ": unknown table '" + table.name +
                  "' (models.toml holds [[model]] tables)");
    models.push_back(read_model(table, source, base_dir, defaults));
    if (!aliases.insert(models.back().spec.alias).second)
      throw Error(std::string(source) + ":" + std::to_string(table.line) + ": two models are named '" +
                  models.back().spec.alias + "' (give each an alias)");
  }
  if (models.empty()) throw Error(std::string(source) + ": no [[model]] table");
  return models;
}

std::vector<ConfiguredModel> load_model_config(const std::string& path, const EngineOptions& defaults) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("--config: cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), path, std::filesystem::path(path).parent_path().string(), defaults);
}

}  // namespace moxie::server
