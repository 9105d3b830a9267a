#include "moxie/eval/runner.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "moxie/core/error.h"
#include "moxie/eval/journal.h"
#include "moxie/eval/local_backend.h"
#include "moxie/eval/prompt.h"
#include "moxie/eval/scoring.h"

namespace moxie::eval {
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void score_choices_into(Backend& b, const Task& task, const Question& q, ordered_json& r) {
  const ChoiceScores s = b.score_choices(build_prompt(task, q), q.choices);
  const ChoicePick p = pick_choice(s.logprob, q.choices);
  r["logprobs"] = s.logprob;
  r["choice_tokens"] = s.n_tokens;
  r["pred"] = p.pred;
  r["pred_norm"] = p.pred_norm;
  r["answer"] = q.answer_index;
  r["score"] = p.pred == q.answer_index ? 1.0 : 0.0;
  r["score_norm"] = p.pred_norm == q.answer_index ? 1.0 : 0.0;
  r["prompt_tokens"] = s.prompt_tokens;
  r["completion_tokens"] = 0;
}

void generate_into(Backend& b, const Task& task, const Question& q, ordered_json& r) {
  const Generation g = b.generate(build_prompt(task, q), task.spec.max_tokens, task.spec.stop);
  const std::optional<std::string> extracted = extract_answer(task.spec.answer_regex, g.text);
  r["response"] = g.text;
  r["extracted"] = extracted ? ordered_json(*extracted) : ordered_json(nullptr);
  r["answer"] = q.answer;
  r["score"] = extracted && answers_match(*extracted, q.answer) ? 1.0 : 0.0;
  r["prompt_tokens"] = g.prompt_tokens;
  r["completion_tokens"] = g.completion_tokens;
  if (g.server_cost_nanodollars >= 0) r["server_cost_nanodollars"] = g.server_cost_nanodollars;
}

void score_text_into(Backend& b, const Question& q, ordered_json& r) {
  const TextScore s = b.score_text(q.context);
  r["nll_sum"] = s.nll_sum;
  r["n_scored"] = s.n_scored;
  r["score"] = s.nll_sum / double(s.n_scored);  // mean nll per token; perplexity = exp
  r["prompt_tokens"] = s.prompt_tokens;
  r["completion_tokens"] = 0;
}

bool can_run(const Backend& b, const Task& t) { return t.spec.kind == TaskKind::generative || b.scores_text(); }

int64_t count_total(const RunConfig& c, const std::vector<Task>& tasks) {
  int64_t n = 0;
  for (size_t m = 0; m < c.models.size(); ++m)
    for (const Task& t : tasks)
      if (t.spec.kind == TaskKind::generative || !c.models[m].is_endpoint()) n += int64_t(t.questions.size());
  return n;
}

// Runs `pending` with up to n_workers threads; the first error stops the others and is
// rethrown once all have stopped.
void run_parallel(size_t n_items, int n_workers, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mu;
  auto worker = [&] {
    for (size_t i; !failed && (i = next++) < n_items;) {
      try {
        work(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < std::min<int>(n_workers, int(n_items)); ++w) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::unique_ptr<Backend> make_backend(const ModelEntry& m, int n_threads) {
  if (m.is_endpoint()) return std::make_unique<OpenAiBackend>(m.endpoint);
  return std::make_unique<LocalBackend>(m.gguf, n_threads, m.n_ctx);
}

ordered_json score_question(Backend& backend, const ModelEntry& model, const Task& task, const Question& q) {
  ordered_json r{{"model", model.name}, {"task", task.spec.name}, {"id", q.id}, {"type", task_kind_name(task.spec.kind)}};
  switch (task.spec.kind) {
    case TaskKind::multiple_choice: score_choices_into(backend, task, q, r); break;
    case TaskKind::generative: generate_into(backend, task, q, r); break;
    case TaskKind::perplexity: score_text_into(backend, q, r); break;
  }
  const metering::TokenCounts tokens{r["prompt_tokens"].get<int64_t>(), 0, r["completion_tokens"].get<int64_t>()};
  r["cost_nanodollars"] = metering::cost_of(model.price, tokens);
  return r;
}

void run_missing(const RunConfig& config, const std::vector<Task>& tasks, Journal& journal,
                 const BackendFactory& factory, const ProgressFn& progress) {
  Progress p;
  p.total = count_total(config, tasks);
  const Clock::time_point start = Clock::now();
  std::mutex progress_mu;
  for (const ModelEntry& model : config.models) {
    std::unique_ptr<Backend> backend;  // loaded only when something is left to do
    for (const Task& task : tasks) {
      if (task.spec.kind != TaskKind::generative && model.is_endpoint()) continue;
      std::vector<const Question*> pending;
      for (const Question& q : task.questions) {
        if (journal.has({model.name, task.spec.name, q.id})) {
          ++p.done;
        } else {
          pending.push_back(&q);
        }
      }
      if (pending.empty()) continue;
      if (!backend) backend = factory(model);
      if (!can_run(*backend, task)) continue;
      p.model = model.name;
      p.task = task.spec.name;
      Clock::time_point last_done = Clock::now();  // wall_s of a record: time since the previous one
      run_parallel(pending.size(), backend->concurrency(), [&](size_t i) {
        ordered_json r = score_question(*backend, model, task, *pending[i]);
        std::lock_guard<std::mutex> lock(progress_mu);
        r["wall_s"] = seconds_since(last_done);
        last_done = Clock::now();
        journal.append(r);
        ++p.done;
        ++p.done_this_run;
        p.elapsed_s = seconds_since(start);
        p.eta_s = p.elapsed_s / double(p.done_this_run) * double(p.total - p.done);
        if (progress) progress(p);
      });
    }
  }
}

}  // namespace moxie::eval
