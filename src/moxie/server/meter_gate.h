#pragma once
// MeterGate: the HttpServer's RequestGate over metering::Meter. It keeps each admitted
// request's reservation (by request id) between authorize and settle, turns the meter's
// refusals into OpenAI error bodies (401/402/403/429 + Retry-After), maps the HTTP outcome
// to the ledger's status (200 completed, 499 cancelled, anything else failed), and shows
// the billed cost in the response's usage whenever the model has a known price.
//
// StaleRecovery: a thread that periodically settles reservations other replicas left open
// (Meter::recover() at start-up handles this server's own).
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "moxie/server/http_server.h"
#include "moxie/server/metering/ledger.h"

namespace moxie::metering {
class Meter;
class Store;
}  // namespace moxie::metering

namespace moxie::server {

class MeterGate : public RequestGate {
 public:
  explicit MeterGate(metering::Meter& meter) : meter_(meter) {}

  std::optional<GateRefusal> authorize(const GateRequest& request) override;
  std::optional<int64_t> settle(const GateRequest& request, const RequestRecord& record, int status) override;
  std::optional<GateRefusal> authenticate(const std::string& authorization) override;
  std::string pricing_json(const std::string& model) const override;

  // Admitted requests not settled yet.
  size_t open_requests() const;

 private:
  metering::Meter& meter_;
  mutable std::mutex mu_;
  std::map<std::string, metering::Reservation> open_;  // by request id
};

// How an HTTP outcome is recorded in the ledger.
metering::UsageStatus usage_status_for_http(int status);

// Whether the price sheet names the model or has a default (else nothing is shown as cost).
bool price_known(const metering::PriceSheet& prices, const std::string& model);

class StaleRecovery {
 public:
  // Every interval_s, settles reservations older than stale_s whatever replica holds them.
  StaleRecovery(metering::Store& store, const metering::PriceSheet& prices, int64_t stale_s, int64_t interval_s);
  ~StaleRecovery();  // stops and joins
  StaleRecovery(const StaleRecovery&) = delete;
  StaleRecovery& operator=(const StaleRecovery&) = delete;

 private:
  void loop();

  metering::Store& store_;
  const metering::PriceSheet& prices_;
  int64_t stale_s_;
  int64_t interval_s_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace moxie::server
