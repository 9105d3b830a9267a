#pragma once
// run_eval: one `moxie eval` run from a parsed config. Loads every task, opens (or
// resumes) <output>/journal.jsonl, runs what is missing, then writes <output>/results.json,
// <output>/table.txt and <output>/chart.png from all journaled records, so an interrupted
// run that is resumed ends with the same results as one that never stopped.
#include <string>
#include <vector>

#include "moxie/eval/report.h"
#include "moxie/eval/runner.h"

namespace moxie::eval {

struct EvalOutcome {
  std::vector<ModelTotals> totals;
  std::string table;
  std::string results_path, table_path, chart_path;  // chart_path empty: not drawn
  std::string chart_error;                           // why not
};

// factory: empty uses make_backend(entry, config.threads). Throws moxie::Error.
EvalOutcome run_eval(const RunConfig& config, const ProgressFn& progress, const BackendFactory& factory = {});

}  // namespace moxie::eval
