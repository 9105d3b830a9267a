#include "moxie/server/metrics.h"

#include <cstdio>

#include "moxie/runtime/engine.h"
#include "moxie/runtime/request_stream.h"

namespace moxie::server {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Label values escaped as Prometheus wants: backslash, quote, newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

const std::vector<double> kLatencyBoundsMs = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& labels, std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? num(bounds_[i]) : "+Inf";
    *out += name + "_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  *out += name + "_sum{" + labels + "} " + num(sum_) + "\n";
  *out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

struct Metrics::PerModel {
  uint64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  Histogram ttft_ms{kLatencyBoundsMs};
  Histogram inter_token_ms{kLatencyBoundsMs};
  Histogram queue_ms{kLatencyBoundsMs};
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::PerModel& Metrics::model(const std::string& name) {
  auto& m = models_[name];
  if (!m) m = std::make_unique<PerModel>();
  return *m;
}

void Metrics::observe_request(const std::string& model_name, const std::string& endpoint, int status,
                              const RequestRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{model_name, endpoint, status}];
  if (!record) return;
  PerModel& m = model(model_name);
  m.prompt_tokens += uint64_t(record->prompt_tokens);
  m.cached_tokens += uint64_t(record->cached_tokens);
  m.completion_tokens += uint64_t(record->completion_tokens);
  if (record->completion_tokens > 0) m.ttft_ms.observe(record->ttft_ms);
  m.queue_ms.observe(record->queue_ms);
  for (float gap : record->inter_token_ms) m.inter_token_ms.observe(gap);
}

void Metrics::observe_status(const std::string& endpoint, int status) { observe_request("", endpoint, status, nullptr); }

std::string Metrics::render(const std::map<std::string, EngineStats>& stats) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  header(&out, "moxie_requests_total", "counter", "HTTP requests answered, by model, endpoint and status.");
  for (const auto& [key, n] : requests_) {
    const auto& [m, endpoint, status] = key;
    out += "moxie_requests_total{model=\"" + label(m) + "\",endpoint=\"" + label(endpoint) + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  const std::pair<const char*, uint64_t PerModel::*> tokens[] = {
      {"moxie_prompt_tokens_total", &PerModel::prompt_tokens},
      {"moxie_cached_prompt_tokens_total", &PerModel::cached_tokens},
      {"moxie_completion_tokens_total", &PerModel::completion_tokens}};
  for (const auto& [name, field] : tokens) {
    header(&out, name, "counter", "Tokens of finished requests (cached: prompt tokens restored from the prefix cache).");
    for (const auto& [m, pm] : models_) out += std::string(name) + "{model=\"" + label(m) + "\"} " + std::to_string((*pm).*field) + "\n";
  }
  const std::pair<const char*, Histogram PerModel::*> hists[] = {
      {"moxie_time_to_first_token_ms", &PerModel::ttft_ms},
      {"moxie_inter_token_latency_ms", &PerModel::inter_token_ms},
      {"moxie_queue_time_ms", &PerModel::queue_ms}};
  for (const auto& [name, field] : hists) {
    header(&out, name, "histogram", "Milliseconds, per finished request (inter-token: per gap).");
    for (const auto& [m, pm] : models_) ((*pm).*field).render(name, "model=\"" + label(m) + "\"", &out);
  }
  const std::pair<const char*, double (*)(const EngineStats&)> gauges[] = {
      {"moxie_queue_depth", [](const EngineStats& s) { return double(s.queue_depth); }},
      {"moxie_active_sequences", [](const EngineStats& s) { return double(s.active); }},
      {"moxie_slots", [](const EngineStats& s) { return double(s.n_slots); }},
      {"moxie_tokens_per_second", [](const EngineStats& s) { return s.tokens_per_s; }},
      {"moxie_prefix_cache_bytes", [](const EngineStats& s) { return double(s.prefix_cache_bytes); }},
      {"moxie_prefix_cache_entries", [](const EngineStats& s) { return double(s.prefix_cache_entries); }}};
  for (const auto& [name, get] : gauges) {
    header(&out, name, "gauge", "Engine state when scraped (tokens/s: sampled over the last 5 s).");
    for (const auto& [m, s] : stats) out += std::string(name) + "{model=\"" + label(m) + "\"} " + num(get(s)) + "\n";
  }
  return out;
}

}  // namespace moxie::server
