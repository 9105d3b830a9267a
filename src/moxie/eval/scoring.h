#pragma once
// Scoring rules and the statistics of a score.
//
//   multiple choice: pred = argmax_i logprob_i (acc); pred_norm = argmax_i logprob_i / bytes_i
//                    (acc_norm, lm-eval-harness's length normalisation); ties go to the first
//   generative:      the answer_regex's LAST match in the response (group 1 when the regex
//                    has a group) is compared with the reference after normalize_answer
//   mean ± standard error of the mean: sqrt(sample variance / n), 0 for n < 2
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moxie::eval {

struct ChoicePick {
  int64_t pred = -1;
  int64_t pred_norm = -1;
};
ChoicePick pick_choice(const std::vector<double>& logprob, const std::vector<std::string>& choices);

// Throws moxie::Error naming the regex when it does not compile.
std::optional<std::string> extract_answer(const std::string& regex, const std::string& response);
// Trims whitespace, drops thousands commas and a leading '$', and a trailing '.'.
std::string normalize_answer(const std::string& s);
bool answers_match(const std::string& extracted, const std::string& reference);

struct MeanStderr {
  double mean = 0;
  double stderr_ = 0;
  int64_t n = 0;
};
MeanStderr mean_stderr(const std::vector<double>& values);

}  // namespace moxie::eval
