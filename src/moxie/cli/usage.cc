// moxie usage [--key K] [--model M] [--since T] [--until T] [--by day|model|key|total]
//             [--format table|csv|json] [--db PATH|postgresql://...]
// Sums the usage ledger: requests, prompt / cached / completion tokens and cost.
// T is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or a span back from now (30m, 24h, 7d).
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/metering/time_text.h"
#include "moxie/server/metering/usage_report.h"

namespace moxie::cli {

void register_usage(CLI::App& app) {
  auto* cmd = app.add_subcommand("usage", "Report metered usage and cost from the ledger");
  struct Args {
    std::string db, key, model, since, until, by = "day", format = "table";
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "SQLite file or postgresql:// URL");
  cmd->add_option("--key", args->key, "only this key (id or name)");
  cmd->add_option("--model", args->model, "only this model");
  cmd->add_option("--since", args->since, "from this time on (inclusive)");
  cmd->add_option("--until", args->until, "before this time");
  cmd->add_option("--by", args->by, "group by day, model, key or total")->capture_default_str();
  cmd->add_option("--format", args->format, "table, csv or json")->capture_default_str();
  cmd->callback([args] {
    set_action([args] {
      using namespace moxie::metering;
      const GroupBy by = parse_group_by(args->by);
      const ReportFormat format = parse_report_format(args->format);
      const int64_t now = system_now_us();
      UsageFilter filter;
      if (!args->key.empty()) filter.key = args->key;
      if (!args->model.empty()) filter.model = args->model;
      if (!args->since.empty()) filter.since_us = parse_time(args->since, now, "--since");
      if (!args->until.empty()) filter.until_us = parse_time(args->until, now, "--until");
      Store store(args->db.empty() ? default_database_url() : args->db);
      std::fputs(format_usage(usage_summary(store, filter, by), by, format).c_str(), stdout);
      return 0;
    });
  });
}

}  // namespace moxie::cli
