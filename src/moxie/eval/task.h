#pragma once
// Eval tasks: a JSONL file of questions (one JSON object a line, see docs/eval.md) plus the
// settings the run config gives it. Three kinds:
//
//   multiple_choice  {"id": "q1", "context": "Q: ...\nA:", "choices": [" red", " blue"], "answer": 1}
//                    scored by the log-likelihood of each choice given the context:
//                    acc (argmax of the sum) and acc_norm (argmax of the sum / choice bytes)
//   generative       {"id": "g1", "prompt": "Q: 2+3?\nA:", "answer": "5"}
//                    a greedy answer; answer_regex's first group (or the whole match) must
//                    equal the answer after trimming whitespace: exact match
//   perplexity       {"id": "p1", "text": "..."}
//                    the negative log-likelihood of every token of the text after the first
//
// A line with "fewshot": true is an example for few-shot prompts, never scored itself.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moxie::eval {

enum class TaskKind { multiple_choice, generative, perplexity };
const char* task_kind_name(TaskKind k);
// Throws moxie::Error naming `what` for an unknown name.
TaskKind parse_task_kind(std::string_view name, std::string_view what);

struct Question {
  std::string id;
  std::string context;               // multiple_choice: context; generative: prompt; perplexity: text
  std::vector<std::string> choices;  // multiple_choice only
  int64_t answer_index = -1;         // multiple_choice only
  std::string answer;                // generative only
  std::string target;                // few-shot examples: the worked answer shown ("target")
};

struct TaskSpec {
  std::string name;
  std::string path;  // the JSONL file
  TaskKind kind = TaskKind::multiple_choice;
  int64_t num_fewshot = 0;  // examples put before each question (the first ones in the file)
  bool chat = false;        // examples and question as chat turns through the model's template
  std::string fewshot_separator = "\n\n";
  std::string answer_regex = "(-?[0-9][0-9,]*(?:\\.[0-9]+)?)";  // generative: the last match counts
  int64_t max_tokens = 64;  // generative: the answer's length limit
  std::vector<std::string> stop = {"\n\n"};  // generative: stop strings
  int64_t limit = -1;       // score only the first `limit` questions (-1: all)
};

struct Task {
  TaskSpec spec;
  std::vector<Question> fewshot;    // examples, in file order
  std::vector<Question> questions;  // scored, in file order
};

// Reads spec.path. Throws moxie::Error "<file>:<line>: ..." naming the field for a line
// that is not a JSON object of the kind's shape, an answer out of range, a duplicate id,
// or fewer examples than num_fewshot.
Task load_task(const TaskSpec& spec);
// The same from text in memory; `source` names it in errors.
Task parse_task(const TaskSpec& spec, std::string_view jsonl, std::string_view source);

}  // namespace moxie::eval
