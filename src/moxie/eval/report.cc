#include "moxie/eval/report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "moxie/core/error.h"
#include "moxie/eval/scoring.h"
#include "moxie/server/metering/money.h"

namespace moxie::eval {
namespace {

using nlohmann::ordered_json;

TaskScore score_task(const ModelEntry& m, const Task& t, const std::map<RecordKey, std::string>& records) {
  TaskScore s;
  std::vector<double> scores, norms;
  double nll = 0;
  int64_t n_scored = 0;
  for (const Question& q : t.questions) {
    const auto it = records.find({m.name, t.spec.name, q.id});
    if (it == records.end()) continue;
    const ordered_json r = ordered_json::parse(it->second);
    scores.push_back(r["score"].get<double>());
    if (r.contains("score_norm")) norms.push_back(r["score_norm"].get<double>());
    if (r.contains("nll_sum")) {
      nll += r["nll_sum"].get<double>();
      n_scored += r["n_scored"].get<int64_t>();
    }
    s.prompt_tokens += r["prompt_tokens"].get<int64_t>();
    s.completion_tokens += r["completion_tokens"].get<int64_t>();
    s.cost_nanodollars = metering::checked_add(s.cost_nanodollars, r["cost_nanodollars"].get<int64_t>(), "cost");
    s.wall_s += r["wall_s"].get<double>();
  }
  s.n = int64_t(scores.size());
  s.ran = s.n > 0;
  const MeanStderr ms = mean_stderr(scores), mn = mean_stderr(norms);
  s.score = ms.mean;
  s.stderr_ = ms.stderr_;
  s.score_norm = mn.mean;
  s.stderr_norm = mn.stderr_;
  if (t.spec.kind == TaskKind::perplexity && n_scored > 0) {
    s.score = std::exp(nll / double(n_scored));
    s.stderr_ = s.score * ms.stderr_;  // d exp(x) = exp(x) dx
  }
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Columns on a terminal: UTF-8 continuation bytes take none ("±" is two bytes, one column).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, size_t width) {
  const size_t w = display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string cell(const Task& t, const TaskScore& s) {
  if (!s.ran) return "n/a";
  if (t.spec.kind == TaskKind::perplexity) return "ppl " + fixed(s.score, 3) + " ± " + fixed(s.stderr_, 3);
  return fixed(s.score, 3) + " ± " + fixed(s.stderr_, 3);
}

ordered_json task_score_json(const Task& t, const TaskScore& s) {
  ordered_json j{{"type", task_kind_name(t.spec.kind)}, {"ran", s.ran}, {"n", s.n}};
  const char* metric = t.spec.kind == TaskKind::multiple_choice ? "acc"
                       : t.spec.kind == TaskKind::generative    ? "exact_match"
                                                                : "perplexity";
  j["metric"] = metric;
  j["score"] = s.score;
  j["stderr"] = s.stderr_;
  if (t.spec.kind == TaskKind::multiple_choice) {
    j["acc_norm"] = s.score_norm;
    j["acc_norm_stderr"] = s.stderr_norm;
  }
  j["prompt_tokens"] = s.prompt_tokens;
  j["completion_tokens"] = s.completion_tokens;
  j["cost_nanodollars"] = s.cost_nanodollars;
  j["wall_s"] = s.wall_s;
  return j;
}

}  // namespace

std::vector<ModelTotals> summarize(const RunConfig& config, const std::vector<Task>& tasks,
                                   const std::map<RecordKey, std::string>& records) {
  std::vector<ModelTotals> out;
  for (const ModelEntry& m : config.models) {
    ModelTotals mt;
    mt.name = m.name;
    double acc_sum = 0;
    int n_acc = 0;
    for (const Task& t : tasks) {
      const TaskScore s = score_task(m, t, records);
      mt.tasks[t.spec.name] = s;
      mt.questions += s.n;
      mt.prompt_tokens += s.prompt_tokens;
      mt.completion_tokens += s.completion_tokens;
      mt.cost_nanodollars = metering::checked_add(mt.cost_nanodollars, s.cost_nanodollars, "cost");
      mt.wall_s += s.wall_s;
      if (s.ran && t.spec.kind != TaskKind::perplexity) {
        acc_sum += s.score;
        ++n_acc;
      }
    }
    if (mt.questions > 0) {
      const int64_t scaled = metering::checked_mul(mt.cost_nanodollars, 1000, "cost per 1,000 questions");
      mt.cost_per_1000_nanodollars = (scaled + mt.questions - 1) / mt.questions;
    }
    mt.tokens_per_s = mt.wall_s > 0 ? double(mt.prompt_tokens + mt.completion_tokens) / mt.wall_s : 0;
    mt.mean_accuracy = n_acc > 0 ? acc_sum / n_acc : -1;
    out.push_back(std::move(mt));
  }
  return out;
}

std::string format_table(const RunConfig& config, const std::vector<ModelTotals>& totals) {
  std::vector<std::string> head{"model"};
  for (const TaskSpec& t : config.tasks) head.push_back(t.name);
  for (const char* h : {"prompt tok", "compl tok", "wall s", "tok/s", "cost $", "$/1k q"}) head.push_back(h);
  std::vector<std::vector<std::string>> rows{head};
  for (const ModelTotals& m : totals) {
    std::vector<std::string> row{m.name};
    for (const TaskSpec& spec : config.tasks) {
      Task t;
      t.spec = spec;
      row.push_back(cell(t, m.tasks.at(spec.name)));
    }
    row.push_back(std::to_string(m.prompt_tokens));
    row.push_back(std::to_string(m.completion_tokens));
    row.push_back(fixed(m.wall_s, 2));
    row.push_back(fixed(m.tokens_per_s, 1));
    row.push_back(metering::format_usd(m.cost_nanodollars));
    row.push_back(metering::format_usd(m.cost_per_1000_nanodollars));
    rows.push_back(row);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
  std::string out;
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) out += (c ? "  " : "") + pad(r[c], width[c]);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  return out;
}

std::string results_json(const RunConfig& config, const std::vector<Task>& tasks, const std::vector<ModelTotals>& totals,
                         const std::map<RecordKey, std::string>& records) {
  ordered_json models = ordered_json::array();
  for (const ModelTotals& m : totals) {
    ordered_json per_task = ordered_json::object();
    for (const Task& t : tasks) per_task[t.spec.name] = task_score_json(t, m.tasks.at(t.spec.name));
    models.push_back({{"name", m.name}, {"questions", m.questions}, {"prompt_tokens", m.prompt_tokens},
                      {"completion_tokens", m.completion_tokens}, {"wall_s", m.wall_s},
                      {"tokens_per_s", m.tokens_per_s}, {"cost_nanodollars", m.cost_nanodollars},
                      {"cost_usd", metering::format_usd(m.cost_nanodollars)},
                      {"cost_per_1000_questions_nanodollars", m.cost_per_1000_nanodollars},
                      {"mean_accuracy", m.mean_accuracy}, {"tasks", per_task}});
  }
  ordered_json recs = ordered_json::array();
  for (const ModelEntry& m : config.models)
    for (const Task& t : tasks)
      for (const Question& q : t.questions) {
        const auto it = records.find({m.name, t.spec.name, q.id});
        if (it != records.end()) recs.push_back(ordered_json::parse(it->second));
      }
  return ordered_json{{"settings", ordered_json::parse(config.settings_json)}, {"models", models}, {"records", recs}}
      .dump(2);
}

std::string draw_chart(const std::string& dir, const std::vector<ModelTotals>& totals) {
  const std::string data = dir + "/chart.dat", script = dir + "/chart.gp", png = dir + "/chart.png";
  {
    std::ofstream d(data);
    for (const ModelTotals& m : totals)
      if (m.mean_accuracy >= 0)
        d << double(m.cost_per_1000_nanodollars) / 1e9 << " " << m.mean_accuracy << " \"" << m.name << "\"\n";
    std::ofstream s(script);
    s << "set terminal png size 800,500\n"
      << "set output '" << png << "'\n"
      << "set title 'moxie eval: score against cost'\n"
      << "set xlabel 'cost per 1,000 questions (USD)'\nset ylabel 'mean accuracy'\n"
      << "set yrange [0:1.05]\nset offsets graph 0.1, graph 0.1, 0, 0\nset grid\nunset key\n"
      << "plot '" << data << "' using 1:2 with points pt 7 ps 2, '' using 1:2:3 with labels offset 0,1\n";
  }
  const std::string cmd = "gnuplot '" + script + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw Error("cannot run gnuplot for " + png);
  std::string output;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int rc = pclose(p);
  if (rc != 0) throw Error("gnuplot failed drawing " + png + " (is gnuplot-nox installed?): " + output);
  return png;
}

}  // namespace moxie::eval
