#include "moxie/eval/run_eval.h"

#include <filesystem>
#include <fstream>

#include "moxie/core/error.h"
#include "moxie/eval/journal.h"

namespace moxie::eval {
namespace {

// Written to a temporary name and renamed, so a reader never sees half a file.
void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw Error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

EvalOutcome run_eval(const RunConfig& config, const ProgressFn& progress, const BackendFactory& factory) {
  std::vector<Task> tasks;
  for (const TaskSpec& spec : config.tasks) tasks.push_back(load_task(spec));
  std::error_code ec;
  std::filesystem::create_directories(config.output_dir, ec);
  if (ec) throw Error("cannot create output folder " + config.output_dir + ": " + ec.message());
  Journal journal(config.output_dir + "/journal.jsonl", config.settings_json);
  const BackendFactory make = factory ? factory : [&](const ModelEntry& m) { return make_backend(m, config.threads); };
  run_missing(config, tasks, journal, make, progress);

  EvalOutcome o;
  const auto records = journal.records();
  o.totals = summarize(config, tasks, records);
  o.table = format_table(config, o.totals);
  o.results_path = config.output_dir + "/results.json";
  o.table_path = config.output_dir + "/table.txt";
  write_file(o.results_path, results_json(config, tasks, o.totals, records));
  write_file(o.table_path, o.table);
  try {
    o.chart_path = draw_chart(config.output_dir, o.totals);
  } catch (const Error& e) {
    o.chart_error = e.what();
  }
  return o;
}

}  // namespace moxie::eval
