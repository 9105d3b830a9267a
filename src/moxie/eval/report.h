#pragma once
// Report: per (model, task) scores and per-model totals from the journal's records, the
// side-by-side table, results.json and the score-against-cost chart.
//
//   multiple_choice: acc ± stderr (and acc_norm); generative: exact match ± stderr;
//   perplexity: exp(sum nll / sum scored tokens), ± by the delta method from the per-text
//   mean nll's standard error.
//   cost: the sum of the questions' costs (each rounded up to a nano-dollar); per 1,000
//   questions: ceil(cost * 1000 / questions).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moxie/eval/journal.h"
#include "moxie/eval/run_config.h"
#include "moxie/eval/task.h"

namespace moxie::eval {

struct TaskScore {
  bool ran = false;         // false: n/a (the backend cannot run this kind) or nothing yet
  int64_t n = 0;            // questions scored
  double score = 0, stderr_ = 0;
  double score_norm = 0, stderr_norm = 0;  // multiple_choice: acc_norm
  int64_t prompt_tokens = 0, completion_tokens = 0;
  int64_t cost_nanodollars = 0;
  double wall_s = 0;
};

struct ModelTotals {
  std::string name;
  std::map<std::string, TaskScore> tasks;  // by task name
  int64_t questions = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  int64_t cost_nanodollars = 0;
  int64_t cost_per_1000_nanodollars = 0;
  double wall_s = 0;
  double tokens_per_s = 0;  // (prompt + completion) / wall_s
  double mean_accuracy = -1;  // over accuracy tasks (not perplexity) that ran; -1: none
};

std::vector<ModelTotals> summarize(const RunConfig& config, const std::vector<Task>& tasks,
                                   const std::map<RecordKey, std::string>& records);

std::string format_table(const RunConfig& config, const std::vector<ModelTotals>& totals);
// results.json: settings, per-model totals and per-task scores, and every record in task order.
std::string results_json(const RunConfig& config, const std::vector<Task>& tasks, const std::vector<ModelTotals>& totals,
                         const std::map<RecordKey, std::string>& records);
// Writes <dir>/chart.gp and runs gnuplot to draw <dir>/chart.png (800x500): mean accuracy
// against cost per 1,000 questions, one labelled point per model. Throws moxie::Error when
// gnuplot is missing or fails.
std::string draw_chart(const std::string& dir, const std::vector<ModelTotals>& totals);

}  // namespace moxie::eval
