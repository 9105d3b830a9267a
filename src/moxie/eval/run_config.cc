#include "moxie/eval/run_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "moxie/core/error.h"
#include "moxie/eval/toml_subset.h"

namespace moxie::eval {
namespace {

using nlohmann::ordered_json;

// Typed access to one table that remembers where it is, and rejects unknown keys.
class Table {
 public:
  Table(const ordered_json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("", "must be a table");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(where_ + (key.empty() ? "" : "." + key) + ": " + what);
  }
  bool has(const std::string& key) const { return j_.contains(key); }
  std::string str(const std::string& key, const std::string& fallback = {}) const {
    seen_.insert(key);
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(key, "must be a string");
    return j_[key].get<std::string>();
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    seen_.insert(key);
    if (!has(key)) return fallback;
    if (!j_[key].is_number_integer()) fail(key, "must be an integer");
    const int64_t v = j_[key].get<int64_t>();
    if (v < min || v > max) fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return v;
  }
  bool boolean(const std::string& key, bool fallback) const {
    seen_.insert(key);
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(key, "must be true or false");
    return j_[key].get<bool>();
  }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> fallback) const {
    seen_.insert(key);
    if (!has(key)) return fallback;
    std::vector<std::string> out;
    if (!j_[key].is_array()) fail(key, "must be an array of strings");
    for (const auto& s : j_[key]) {
      if (!s.is_string()) fail(key, "must be an array of strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  metering::Nanodollars usd(const std::string& key) const {
    seen_.insert(key);
    if (!has(key)) return 0;
    if (!j_[key].is_string()) fail(key, "must be a quoted dollar amount such as \"0.14\" (floats would round)");
    return metering::parse_usd(j_[key].get<std::string>(), where_ + "." + key);
  }
  void mark_known(const std::string& key) const { seen_.insert(key); }
  void check_no_unknown_keys() const {
    for (const auto& [k, v] : j_.items())
      if (!seen_.count(k)) fail(k, "unknown key");
  }

 private:
  const ordered_json& j_;
  std::string where_;
  mutable std::set<std::string> seen_;
};

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

ModelEntry read_model(const Table& t, const std::string& base_dir) {
  ModelEntry m;
  m.name = t.str("name");
  if (m.name.empty()) t.fail("name", "is required");
  m.gguf = resolve(base_dir, t.str("gguf"));
  m.endpoint.url = t.str("url");
  if (m.gguf.empty() == m.endpoint.url.empty()) t.fail("", "needs exactly one of gguf (a local file) or url (an endpoint)");
  m.endpoint.model = t.str("api_model", m.name);
  const std::string key_env = t.str("api_key_env");
  if (!key_env.empty()) {
    const char* v = std::getenv(key_env.c_str());
    if (!v) t.fail("api_key_env", "environment variable " + key_env + " is not set");
    m.endpoint.api_key = v;
  }
  m.endpoint.concurrency = int(t.integer("concurrency", 4, 1, 256));
  m.endpoint.max_retries = int(t.integer("max_retries", 5, 0, 100));
  m.endpoint.backoff_ms = t.integer("backoff_ms", 500, 0, 60'000);
  m.endpoint.timeout_s = t.integer("timeout_s", 300, 1, 86'400);
  m.n_ctx = t.integer("n_ctx", 0, 0, int64_t(1) << 24);
  m.price.input_per_million = t.usd("input_per_million_usd");
  m.price.cached_input_per_million = m.price.input_per_million;
  m.price.output_per_million = t.usd("output_per_million_usd");
  t.check_no_unknown_keys();
  return m;
}

TaskSpec read_task(const Table& t, const std::string& base_dir, int64_t default_limit) {
  TaskSpec s;
  s.name = t.str("name");
  if (s.name.empty()) t.fail("name", "is required");
  s.path = resolve(base_dir, t.str("path"));
  if (s.path.empty()) t.fail("path", "is required");
  s.kind = parse_task_kind(t.str("type", "multiple_choice"), "type");
  s.num_fewshot = t.integer("num_fewshot", 0, 0, 1000);
  s.chat = t.boolean("chat", false);
  s.fewshot_separator = t.str("fewshot_separator", s.fewshot_separator);
  s.answer_regex = t.str("answer_regex", s.answer_regex);
  s.max_tokens = t.integer("max_tokens", s.max_tokens, 1, 1 << 20);
  s.stop = t.strings("stop", s.stop);
  s.limit = t.integer("limit", default_limit, -1, int64_t(1) << 40);
  t.check_no_unknown_keys();
  return s;
}

ordered_json settings_of(const RunConfig& c) {
  ordered_json models = ordered_json::array(), tasks = ordered_json::array();
  for (const ModelEntry& m : c.models)
    models.push_back({{"name", m.name}, {"gguf", m.gguf}, {"url", m.endpoint.url}, {"api_model", m.endpoint.model},
                      {"concurrency", m.endpoint.concurrency}, {"max_retries", m.endpoint.max_retries},
                      {"n_ctx", m.n_ctx}, {"input_per_million_usd", metering::format_usd(m.price.input_per_million)},
                      {"output_per_million_usd", metering::format_usd(m.price.output_per_million)}});
  for (const TaskSpec& t : c.tasks)
    tasks.push_back({{"name", t.name}, {"path", t.path}, {"type", task_kind_name(t.kind)},
                     {"num_fewshot", t.num_fewshot}, {"chat", t.chat}, {"fewshot_separator", t.fewshot_separator},
                     {"answer_regex", t.answer_regex}, {"max_tokens", t.max_tokens}, {"stop", t.stop},
                     {"limit", t.limit}});
  return {{"models", models}, {"tasks", tasks}};
}

}  // namespace

RunConfig parse_run_config(std::string_view toml_text, const std::string& source, const std::string& base_dir) {
  const ordered_json root = parse_toml(toml_text, source);
  const Table top(root, source);
  RunConfig c;
  c.output_dir = resolve(base_dir, top.str("output", "eval-results"));
  c.threads = int(top.integer("threads", 0, 0, 4096));
  if (c.threads == 0) c.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t limit = top.integer("limit", -1, -1, int64_t(1) << 40);
  top.mark_known("models");  // arrays of tables, read below
  top.mark_known("tasks");
  std::set<std::string> names;
  for (const std::string& list : {std::string("models"), std::string("tasks")}) {
    if (!root.contains(list) || !root[list].is_array() || root[list].empty())
      top.fail(list, "needs at least one [[" + list + "]] table");
    for (size_t i = 0; i < root[list].size(); ++i) {
      const Table t(root[list][i], source + ": " + list + "[" + std::to_string(i) + "]");
      if (list == "models") {
        c.models.push_back(read_model(t, base_dir));
        if (!names.insert("m:" + c.models.back().name).second) t.fail("name", "is used twice");
      } else {
        c.tasks.push_back(read_task(t, base_dir, limit));
        if (!names.insert("t:" + c.tasks.back().name).second) t.fail("name", "is used twice");
      }
    }
  }
  top.check_no_unknown_keys();
  c.settings_json = settings_of(c).dump();
  return c;
}

RunConfig load_run_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read run config " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return parse_run_config(ss.str(), path, dir);
}

}  // namespace moxie::eval
