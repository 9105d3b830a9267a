#pragma once
// Prompts for a question: zero- or few-shot, as raw text or as chat turns for the model's
// chat template.
//
//   raw:   example_1 + target_1 + sep + ... + example_k + target_k + sep + question context
//   chat:  user example_1, assistant target_1, ..., user question context
//          (rendered with the generation prompt; a multiple-choice continuation follows it)
//
// The target of an example is its "target" field when the line has one (a worked answer),
// else the right choice (multiple_choice) or " " + answer (generative).
#include <string>
#include <vector>

#include "moxie/eval/task.h"

namespace moxie::eval {

struct ChatTurn {
  std::string role;  // "user" or "assistant"
  std::string content;
};

struct Prompt {
  bool chat = false;
  std::string text;             // raw prompts
  std::vector<ChatTurn> turns;  // chat prompts
};

Prompt build_prompt(const Task& task, const Question& q);
// The text an example contributes after its context.
std::string example_target(const Task& task, const Question& example);

}  // namespace moxie::eval
