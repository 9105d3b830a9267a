#include "moxie/server/meter_gate.h"

#include <chrono>
#include <cstdio>

#include "moxie/runtime/request_stream.h"
#include "moxie/server/api_error.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"

namespace moxie::server {

std::optional<GateRefusal> MeterGate::authorize(const GateRequest& request) {
  metering::AuthorizeRequest a;
  a.authorization = request.authorization;
  a.model = request.model;
  a.prompt_tokens = request.prompt_tokens;
  a.max_completion_tokens = request.max_tokens;
  a.client = request.client;
  a.request_id = request.request_id;
  metering::Admission admission;
  try {
    admission = meter_.authorize(a);
  } catch (const std::exception& e) {  // the database is unreachable or refused the write
    std::fprintf(stderr, "moxie: metering: cannot admit %s: %s\n", request.request_id.c_str(), e.what());
    return GateRefusal{503, ApiError(503, "metering is unavailable; try again", {}, "metering_unavailable").to_json(), 5};
  }
  if (!admission.admitted()) {
    const metering::MeterError& e = *admission.error;
    return GateRefusal{e.http_status, e.to_openai_json(), e.retry_after_s};
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_[request.request_id] = *admission.reservation;
  return std::nullopt;
}

std::optional<int64_t> MeterGate::settle(const GateRequest& request, const RequestRecord& record, int status) {
  metering::Reservation reservation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(request.request_id);
    if (it == open_.end()) return std::nullopt;  // never admitted here: nothing to settle
    reservation = std::move(it->second);
    open_.erase(it);
  }
  metering::RequestUsage usage;
  usage.tokens = metering::TokenCounts{record.prompt_tokens, record.cached_tokens, record.completion_tokens};
  usage.latency_ms = record.total_ms > 0 ? int64_t(record.total_ms + 0.5) : -1;
  usage.status = usage_status_for_http(status);
  try {
    const metering::Settlement s = meter_.settle(reservation, usage);
    if (!price_known(meter_.prices(), request.model)) return std::nullopt;
    return s.cost;
  } catch (const std::exception& e) {
    // The reservation stays open; recovery settles it (as interrupted) later.
    std::fprintf(stderr, "moxie: metering: cannot settle %s: %s\n", request.request_id.c_str(), e.what());
    return std::nullopt;
  }
}

std::optional<GateRefusal> MeterGate::authenticate(const std::string& authorization) {
  std::optional<metering::MeterError> refused;
  try {
    refused = meter_.authenticate(authorization);
  } catch (const std::exception& e) {  // the database is unreachable
    std::fprintf(stderr, "moxie: metering: cannot check a key: %s\n", e.what());
    return GateRefusal{503, ApiError(503, "metering is unavailable; try again", {}, "metering_unavailable").to_json(), 5};
  }
  if (!refused) return std::nullopt;
  return GateRefusal{refused->http_status, refused->to_openai_json(), refused->retry_after_s};
}

std::string MeterGate::pricing_json(const std::string& model) const {
  if (!price_known(meter_.prices(), model)) return {};
  return metering::price_json(meter_.prices().price_for(model));
}

size_t MeterGate::open_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

metering::UsageStatus usage_status_for_http(int status) {
  if (status == 200) return metering::UsageStatus::completed;
  if (status == 499) return metering::UsageStatus::cancelled;
  return metering::UsageStatus::failed;
}

bool price_known(const metering::PriceSheet& prices, const std::string& model) {
  return prices.default_price().has_value() || prices.models().find(model) != prices.models().end();
}

StaleRecovery::StaleRecovery(metering::Store& store, const metering::PriceSheet& prices, int64_t stale_s,
                             int64_t interval_s)
    : store_(store), prices_(prices), stale_s_(stale_s), interval_s_(interval_s) {
  thread_ = std::thread([this] { loop(); });
}

StaleRecovery::~StaleRecovery() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StaleRecovery::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, std::chrono::seconds(interval_s_), [this] { return stop_; })) {
    lock.unlock();
    try {
      const int64_t now = metering::system_now_us();
      // No instance name matches "": only reservations older than stale_s are taken, never
      // the requests this server is running.
      const int n = metering::recover_interrupted(store_, "", now - stale_s_ * 1'000'000, prices_, now);
      if (n > 0) std::fprintf(stderr, "moxie: metering: recovered %d stale reservation(s)\n", n);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "moxie: metering: stale recovery failed: %s\n", e.what());
    }
    lock.lock();
  }
}

}  // namespace moxie::server
