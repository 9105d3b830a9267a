#pragma once
// Metrics: the counters and histograms behind GET /metrics, in Prometheus' text format.
// One RequestRecord per finished request feeds them (the same record that fills the
// response's usage), labelled by model; gauges (queue depth, active sequences, tokens/s)
// are read from each model's engine when scraped. Thread-safe.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace moxie {
struct EngineStats;
struct RequestRecord;
}

namespace moxie::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implied
  void observe(double v);
  // Appends name_bucket{labels,le=...}, name_sum and name_count lines.
  void render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // [bounds + 1]: the last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // A finished request: endpoint ("chat", "completions"), HTTP status and, when it ran, its record.
  void observe_request(const std::string& model, const std::string& endpoint, int status,
                       const RequestRecord* record);
  // Any other answered request (errors before a model is known, /tokenize, ...).
  void observe_status(const std::string& endpoint, int status);
  // Prometheus text exposition; stats: each model's engine gauges.
  std::string render(const std::map<std::string, EngineStats>& stats) const;

 private:
  struct PerModel;
  PerModel& model(const std::string& name);

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // (model, endpoint, status)
  std::map<std::string, std::unique_ptr<PerModel>> models_;
};

}  // namespace moxie::server
