#include "moxie/server/metering/usage_report.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/metering/time_text.h"

namespace moxie::metering {
namespace {

// The grouping expression comes from this fixed table only, never from user text.
const char* group_expression(GroupBy by) {
  switch (by) {
    case GroupBy::day: return "u.time_us / 86400000000";
    case GroupBy::model: return "u.model";
    case GroupBy::key: return "k.name";
    case GroupBy::total: return "'total'";
  }
  return "'total'";
}

std::string where_clause(const UsageFilter& f, std::vector<SqlValue>* params) {
  std::string where = " WHERE 1 = 1";
  if (f.key) {
    where += " AND (u.key_id = ? OR k.name = ?)";
    params->push_back(*f.key);
    params->push_back(*f.key);
  }
  if (f.model) {
    where += " AND u.model = ?";
    params->push_back(*f.model);
  }
  if (f.since_us) {
    where += " AND u.time_us >= ?";
    params->push_back(*f.since_us);
  }
  if (f.until_us) {
    where += " AND u.time_us < ?";
    params->push_back(*f.until_us);
  }
  return where;
}

nlohmann::json group_json(const UsageGroup& g) {
  return {{"group", g.group},
          {"requests", g.requests},
          {"prompt_tokens", g.prompt_tokens},
          {"cached_tokens", g.cached_tokens},
          {"completion_tokens", g.completion_tokens},
          {"cost_nanodollars", g.cost},
          {"cost_usd", format_usd(g.cost)}};
}

// Quotes a CSV field when needed; a leading = + - @ is defused with a quote mark so a
// key named "=HYPERLINK(...)" stays text when the CSV is opened in a spreadsheet.
std::string csv_field(const std::string& s) {
  std::string v = (!s.empty() && std::string_view("=+-@").find(s[0]) != std::string_view::npos) ? "'" + s : s;
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_table(const std::vector<UsageGroup>& groups, GroupBy by) {
  std::vector<std::vector<std::string>> cells = {
      {group_by_name(by), "requests", "prompt", "cached", "completion", "cost_usd"}};
  for (const auto& g : groups)
    cells.push_back({g.group, std::to_string(g.requests), std::to_string(g.prompt_tokens),
                     std::to_string(g.cached_tokens), std::to_string(g.completion_tokens), format_usd(g.cost)});
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) {
      // Text left-aligned in the first column, numbers right-aligned after it.
      const std::string pad(width[c] - row[c].size(), ' ');
      out += c == 0 ? row[c] + pad : "  " + pad + row[c];
    }
    out += '\n';
  }
  return out;
}
}  // namespace

GroupBy parse_group_by(std::string_view text) {
  if (text == "day") return GroupBy::day;
  if (text == "model") return GroupBy::model;
  if (text == "key") return GroupBy::key;
  if (text == "total") return GroupBy::total;
  throw Error("--by: expected day, model, key or total, got '" + std::string(text) + "'");
}

const char* group_by_name(GroupBy g) {
  switch (g) {
    case GroupBy::day: return "day";
    case GroupBy::model: return "model";
    case GroupBy::key: return "key";
    case GroupBy::total: return "total";
  }
  return "total";
}

ReportFormat parse_report_format(std::string_view text) {
  if (text == "table") return ReportFormat::table;
  if (text == "csv") return ReportFormat::csv;
  if (text == "json") return ReportFormat::json;
  throw Error("--format: expected table, csv or json, got '" + std::string(text) + "'");
}

std::vector<UsageGroup> usage_summary(Store& store, const UsageFilter& filter, GroupBy by) {
  std::vector<SqlValue> params;
  const std::string expr = group_expression(by);
  const std::string sql = "SELECT " + expr +
                          ", COUNT(*), SUM(u.prompt_tokens), SUM(u.cached_tokens), SUM(u.completion_tokens), "
                          "SUM(u.cost_nusd) FROM usage u JOIN api_keys k ON k.id = u.key_id" +
                          where_clause(filter, &params) +
                          // PostgreSQL refuses to GROUP BY a constant; one total needs no grouping.
                          (by == GroupBy::total ? "" : " GROUP BY " + expr + " ORDER BY " + expr);
  const SqlRows rows = store.read([&](SqlDb& db) { return db.query(sql, params); });
  std::vector<UsageGroup> groups;
  for (const SqlRow& r : rows) {
    if (as_int(r[1]) == 0) continue;  // the total of no rows: SUMs are NULL
    UsageGroup g;
    g.group = by == GroupBy::day ? format_day(as_int(r[0])) : as_text(r[0]);
    g.requests = as_int(r[1]);
    g.prompt_tokens = as_int(r[2]);
    g.cached_tokens = as_int(r[3]);
    g.completion_tokens = as_int(r[4]);
    g.cost = as_int(r[5]);
    groups.push_back(std::move(g));
  }
  return groups;
}

std::string usage_json(const std::vector<UsageGroup>& groups, GroupBy by) {
  UsageGroup total{"total"};
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& g : groups) {
    rows.push_back(group_json(g));
    total.requests += g.requests;
    total.prompt_tokens += g.prompt_tokens;
    total.cached_tokens += g.cached_tokens;
    total.completion_tokens += g.completion_tokens;
    total.cost += g.cost;
  }
  nlohmann::json doc = {{"object", "usage_report"}, {"group_by", group_by_name(by)}, {"data", rows},
                        {"total", group_json(total)}};
  return doc.dump();
}

std::string keys_json(const std::vector<KeyRecord>& keys) {
  auto optional_json = [](const std::optional<int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  nlohmann::json data = nlohmann::json::array();
  for (const auto& k : keys) {
    data.push_back({{"id", k.id},
                    {"name", k.name},
                    {"created", format_time(k.created_us)},
                    {"expires", k.limits.expires_us ? nlohmann::json(format_time(*k.limits.expires_us)) : nullptr},
                    {"revoked", k.revoked_us ? nlohmann::json(format_time(*k.revoked_us)) : nullptr},
                    {"budget_nanodollars", optional_json(k.limits.budget)},
                    {"spent_nanodollars", k.spent},
                    {"reserved_nanodollars", k.reserved},
                    {"rpm", optional_json(k.limits.rpm)},
                    {"tpm", optional_json(k.limits.tpm)},
                    {"models", k.limits.models}});
  }
  return nlohmann::json({{"object", "list"}, {"data", data}}).dump();
}

std::string format_usage(const std::vector<UsageGroup>& groups, GroupBy by, ReportFormat format) {
  if (format == ReportFormat::json) return usage_json(groups, by) + "\n";
  if (format == ReportFormat::table) return format_table(groups, by);
  std::string out = std::string(group_by_name(by)) +
                    ",requests,prompt_tokens,cached_tokens,completion_tokens,cost_nanodollars,cost_usd\n";
  for (const auto& g : groups)
    out += csv_field(g.group) + "," + std::to_string(g.requests) + "," + std::to_string(g.prompt_tokens) + "," +
           std::to_string(g.cached_tokens) + "," + std::to_string(g.completion_tokens) + "," + std::to_string(g.cost) +
           "," + format_usd(g.cost) + "\n";
  return out;
}

}  // namespace moxie::metering
