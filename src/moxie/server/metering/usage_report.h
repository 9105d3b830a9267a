#pragma once
// Usage reports over the ledger: `moxie usage`, GET /v1/admin/usage (all keys) and
// GET /v1/me/usage (the caller's key). Filters are bound as parameters, never spliced.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/money.h"

namespace moxie::metering {

class Store;

enum class GroupBy { total, day, model, key };
GroupBy parse_group_by(std::string_view text);  // "day" | "model" | "key" | "total"
const char* group_by_name(GroupBy g);

struct UsageFilter {
  std::optional<std::string> key;   // id or name
  std::optional<std::string> model;
  std::optional<int64_t> since_us;  // inclusive
  std::optional<int64_t> until_us;  // exclusive
};

struct UsageGroup {
  std::string group;  // "2025-06-30", a model, a key name, or "total"
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
  Nanodollars cost = 0;
};

// Groups in ascending order of their label. An empty ledger (or filter) gives no rows.
std::vector<UsageGroup> usage_summary(Store& store, const UsageFilter& filter, GroupBy by);

enum class ReportFormat { table, csv, json };
ReportFormat parse_report_format(std::string_view text);
std::string format_usage(const std::vector<UsageGroup>& groups, GroupBy by, ReportFormat format);

// The JSON bodies of the admin endpoints: keys never include their secret or its hash.
std::string keys_json(const std::vector<KeyRecord>& keys);
std::string usage_json(const std::vector<UsageGroup>& groups, GroupBy by);

}  // namespace moxie::metering
