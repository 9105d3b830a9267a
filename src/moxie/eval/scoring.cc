#include "moxie/eval/scoring.h"

#include <cmath>
#include <regex>

#include "moxie/core/error.h"

namespace moxie::eval {

ChoicePick pick_choice(const std::vector<double>& logprob, const std::vector<std::string>& choices) {
  ChoicePick p;
  double best = -INFINITY, best_norm = -INFINITY;
  for (size_t i = 0; i < logprob.size(); ++i) {
    const double norm = logprob[i] / double(std::max<size_t>(choices[i].size(), 1));
    if (p.pred < 0 || logprob[i] > best) {
      best = logprob[i];
      p.pred = int64_t(i);
    }
    if (p.pred_norm < 0 || norm > best_norm) {
      best_norm = norm;
      p.pred_norm = int64_t(i);
    }
  }
  return p;
}

std::optional<std::string> extract_answer(const std::string& regex, const std::string& response) {
  std::regex re;
  try {
    re = std::regex(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error("answer_regex '" + regex + "' does not compile: " + e.what());
  }
  std::optional<std::string> last;
  for (auto it = std::sregex_iterator(response.begin(), response.end(), re); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    last = m.size() > 1 && m[1].matched ? m[1].str() : m[0].str();
  }
  return last;
}

std::string normalize_answer(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ',') out += c;
  const size_t b = out.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  out = out.substr(b, out.find_last_not_of(" \t\r\n") - b + 1);
  if (!out.empty() && out.front() == '$') out.erase(0, 1);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool answers_match(const std::string& extracted, const std::string& reference) {
  return normalize_answer(extracted) == normalize_answer(reference);
}

MeanStderr mean_stderr(const std::vector<double>& values) {
  MeanStderr r;
  r.n = int64_t(values.size());
  if (values.empty()) return r;
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / double(r.n);
  if (r.n < 2) return r;
  double sq = 0;
  for (double v : values) sq += (v - r.mean) * (v - r.mean);
  r.stderr_ = std::sqrt(sq / double(r.n - 1) / double(r.n));
  return r;
}

}  // namespace moxie::eval
