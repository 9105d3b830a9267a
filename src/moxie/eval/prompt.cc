#include "moxie/eval/prompt.h"

namespace moxie::eval {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string example_target(const Task& task, const Question& example) {
  if (!example.target.empty()) return example.target;
  if (task.spec.kind == TaskKind::multiple_choice) return example.choices[size_t(example.answer_index)];
  return " " + example.answer;
}

Prompt build_prompt(const Task& task, const Question& q) {
  Prompt p;
  p.chat = task.spec.chat;
  const size_t k = size_t(task.spec.num_fewshot);
  for (size_t i = 0; i < k && i < task.fewshot.size(); ++i) {
    const Question& ex = task.fewshot[i];
    if (p.chat) {
      p.turns.push_back({"user", ex.context});
      p.turns.push_back({"assistant", trim(example_target(task, ex))});
    } else {
      p.text += ex.context + example_target(task, ex) + task.spec.fewshot_separator;
    }
  }
  if (p.chat) {
    p.turns.push_back({"user", q.context});
  } else {
    p.text += q.context;
  }
  return p;
}

}  // namespace moxie::eval
