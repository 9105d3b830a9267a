#include "moxie/server/admin_routes.h"

#include <map>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "moxie/server/api_error.h"
#include "moxie/server/metering/api_key.h"
#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/metering/time_text.h"
#include "moxie/server/metering/usage_report.h"

namespace moxie::server {
namespace {

using metering::Store;

RouteResponse error_response(const ApiError& e) { return RouteResponse{e.status(), e.to_json(), 0}; }

int64_t now_us(const AdminRoutesOptions& options) {
  return options.clock ? options.clock() : metering::system_now_us();
}

// The bearer token, or a 401 when the header is absent or not a Bearer credential.
std::string caller_token(const RouteRequest& request) {
  std::string token;
  try {
    token = metering::bearer_token(request.authorization);
  } catch (const Error&) {
    throw ApiError(401, "the Authorization header is not 'Bearer <key>'", {}, "invalid_api_key");
  }
  if (token.empty())
    throw ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer ...'.", {}, "missing_api_key");
  return token;
}

// The API key whose secret is `token`, when it exists (revoked or not).
std::optional<metering::KeyRecord> key_for_token(Store& store, const std::string& token) {
  const metering::SqlRows rows = store.read([&](metering::SqlDb& db) {
    return db.query("SELECT " MOXIE_KEY_COLUMNS " FROM api_keys WHERE secret_hash = ?", {metering::sha256_hex(token)});
  });
  if (rows.empty()) return std::nullopt;
  return metering::key_from_row(rows[0]);
}

// Compares hashes of equal length byte by byte without an early exit, so the time taken
// says nothing about how much of a guess was right.
bool same_secret(const std::string& a, const std::string& b) {
  const std::string ha = metering::sha256_hex(a), hb = metering::sha256_hex(b);
  unsigned diff = 0;
  for (size_t i = 0; i < ha.size(); ++i) diff |= unsigned(ha[i] ^ hb[i]);
  return diff == 0;
}

void require_admin(Store& store, const AdminRoutesOptions& options, const RouteRequest& request) {
  const std::string token = caller_token(request);
  if (options.admin_key.empty())
    throw ApiError(403, "the admin endpoints are off: start the server with --admin-key or MOXIE_ADMIN_KEY", {},
                   "admin_disabled");
  if (same_secret(token, options.admin_key)) return;
  if (key_for_token(store, token))
    throw ApiError(403, "this API key is not the admin key", {}, "admin_key_required");
  throw ApiError(401, "Incorrect admin key provided.", {}, "invalid_api_key");
}

// Query parameters by name; unknown, repeated or empty ones are a 400 naming them.
std::map<std::string, std::string> checked_params(const RouteRequest& request, const std::set<std::string>& allowed) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : request.params) {
    if (!allowed.count(name)) throw invalid_param(name, "is not a parameter of this endpoint");
    if (out.count(name)) throw invalid_param(name, "is given more than once");
    if (value.empty()) throw invalid_param(name, "must not be empty");
    out[name] = value;
  }
  return out;
}

struct UsageQuery {
  metering::UsageFilter filter;
  metering::GroupBy by = metering::GroupBy::day;
};

UsageQuery parse_usage_query(const std::map<std::string, std::string>& params, int64_t now) {
  UsageQuery q;
  auto get = [&](const char* name) -> const std::string* {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  };
  if (const std::string* v = get("key")) q.filter.key = *v;
  if (const std::string* v = get("model")) q.filter.model = *v;
  auto time_param = [&](const char* name) -> std::optional<int64_t> {
    const std::string* v = get(name);
    if (!v) return std::nullopt;
    try {
      return metering::parse_time(*v, now, name);
    } catch (const Error&) {
      throw invalid_param(name, "must be YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or a span such as 30m, 24h, 7d");
    }
  };
  q.filter.since_us = time_param("since");
  q.filter.until_us = time_param("until");
  if (const std::string* v = get("by")) {
    try {
      q.by = metering::parse_group_by(*v);
    } catch (const Error&) {
      throw invalid_param("by", "must be day, model, key or total");
    }
  }
  return q;
}

template <typename F>
RouteResponse answer(F&& f) {
  try {
    return RouteResponse{200, f(), 0};
  } catch (const ApiError& e) {
    return error_response(e);
  }
}

}  // namespace

RouteResponse admin_usage(Store& store, const AdminRoutesOptions& options, const RouteRequest& request) {
  return answer([&] {
    require_admin(store, options, request);
    const UsageQuery q = parse_usage_query(checked_params(request, {"key", "model", "since", "until", "by"}),
                                           now_us(options));
    return metering::usage_json(metering::usage_summary(store, q.filter, q.by), q.by);
  });
}

RouteResponse admin_keys(Store& store, const AdminRoutesOptions& options, const RouteRequest& request) {
  return answer([&] {
    require_admin(store, options, request);
    const auto params = checked_params(request, {"include_revoked"});
    bool include_revoked = false;
    if (auto it = params.find("include_revoked"); it != params.end()) {
      if (it->second != "true" && it->second != "false") throw invalid_param("include_revoked", "must be true or false");
      include_revoked = it->second == "true";
    }
    return metering::keys_json(metering::list_keys(store, include_revoked));
  });
}

RouteResponse my_usage(Store& store, const AdminRoutesOptions& options, const RouteRequest& request) {
  return answer([&] {
    const std::optional<metering::KeyRecord> key = key_for_token(store, caller_token(request));
    const int64_t now = now_us(options);
    if (!key) throw ApiError(401, "Incorrect API key provided.", {}, "invalid_api_key");
    if (key->revoked_us) throw ApiError(401, "Incorrect API key provided: this key has been revoked.", {}, "invalid_api_key");
    if (key->limits.expires_us && now >= *key->limits.expires_us)
      throw ApiError(401, "Incorrect API key provided: this key has expired.", {}, "invalid_api_key");
    UsageQuery q = parse_usage_query(checked_params(request, {"model", "since", "until", "by"}), now);
    q.filter.key = key->id;
    nlohmann::json doc = nlohmann::json::parse(metering::usage_json(metering::usage_summary(store, q.filter, q.by), q.by));
    doc["key"] = {{"id", key->id},
                  {"name", key->name},
                  {"budget_nanodollars", key->limits.budget ? nlohmann::json(*key->limits.budget) : nlohmann::json()},
                  {"spent_nanodollars", key->spent},
                  {"reserved_nanodollars", key->reserved}};
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
}

void add_admin_routes(HttpServer& server, Store& store, AdminRoutesOptions options) {
  auto shared = std::make_shared<AdminRoutesOptions>(std::move(options));
  server.add_get_route("/v1/admin/usage", [&store, shared](const RouteRequest& r) { return admin_usage(store, *shared, r); });
  server.add_get_route("/v1/admin/keys", [&store, shared](const RouteRequest& r) { return admin_keys(store, *shared, r); });
  server.add_get_route("/v1/me/usage", [&store, shared](const RouteRequest& r) { return my_usage(store, *shared, r); });
}

}  // namespace moxie::server
