#pragma once
// Runner: every (model, task, question) of a run config that the journal does not hold yet,
// one model at a time, each finished question journaled at once. Local models answer one
// question at a time (the pool parallelises each forward pass); endpoints get up to their
// `concurrency` questions at once. A backend that cannot run a task kind (an endpoint and
// multiple_choice / perplexity) is skipped and the report shows n/a.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "moxie/eval/backend.h"
#include "moxie/eval/run_config.h"
#include "moxie/eval/task.h"

namespace moxie::eval {

class Journal;

struct Progress {
  int64_t done = 0;   // questions finished, journaled ones from earlier runs included
  int64_t total = 0;  // questions of the whole run
  int64_t done_this_run = 0;
  double elapsed_s = 0;  // this run
  double eta_s = -1;     // -1: not known yet
  std::string model, task;
};
using ProgressFn = std::function<void(const Progress&)>;
using BackendFactory = std::function<std::unique_ptr<Backend>(const ModelEntry&)>;

// LocalBackend for gguf entries, OpenAiBackend for url entries.
std::unique_ptr<Backend> make_backend(const ModelEntry& m, int n_threads);

// The journal record of one question: scores, tokens, cost (rounded up per question, as
// metering::cost_of does per request) and wall_s.
nlohmann::ordered_json score_question(Backend& backend, const ModelEntry& model, const Task& task,
                                      const Question& q);

// Runs what is missing. Throws moxie::Error (what was finished stays journaled).
void run_missing(const RunConfig& config, const std::vector<Task>& tasks, Journal& journal,
                 const BackendFactory& factory, const ProgressFn& progress);

}  // namespace moxie::eval
