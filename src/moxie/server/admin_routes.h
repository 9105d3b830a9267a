#pragma once
// The usage endpoints of `moxie serve`, thin handlers over metering's reports:
//
//   GET /v1/admin/usage?key=&model=&since=&until=&by=day|model|key|total   (admin key)
//   GET /v1/admin/keys?include_revoked=true|false                           (admin key)
//   GET /v1/me/usage?model=&since=&until=&by=...                            (the caller's key)
//
// The admin key is a separate secret (--admin-key or MOXIE_ADMIN_KEY), not an API key:
// no Authorization header or an unknown key is 401, a valid API key that is not the admin
// key is 403, and with no admin key configured the admin endpoints are 403 for everyone.
// Every filter value is checked (400 naming the parameter) and then bound as an SQL
// parameter by usage_summary(), so no value is ever spliced into SQL.
#include <cstdint>
#include <functional>
#include <string>

#include "moxie/server/http_server.h"

namespace moxie::metering {
class Store;
}

namespace moxie::server {

struct AdminRoutesOptions {
  std::string admin_key;                // empty: the admin endpoints are off (403)
  std::function<int64_t()> clock;       // microseconds since the epoch for "24h"-style spans; empty: system clock
};

// Registers the three routes; the store must outlive the server.
void add_admin_routes(HttpServer& server, metering::Store& store, AdminRoutesOptions options);

// The handlers themselves.
RouteResponse admin_usage(metering::Store& store, const AdminRoutesOptions& options, const RouteRequest& request);
RouteResponse admin_keys(metering::Store& store, const AdminRoutesOptions& options, const RouteRequest& request);
RouteResponse my_usage(metering::Store& store, const AdminRoutesOptions& options, const RouteRequest& request);

}  // namespace moxie::server
