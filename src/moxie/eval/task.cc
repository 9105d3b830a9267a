#include "moxie/eval/task.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "moxie/core/error.h"

namespace moxie::eval {
namespace {

using nlohmann::json;

std::string string_field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw Error(where + ": missing \"" + key + "\"");
  if (!j[key].is_string()) throw Error(where + ": \"" + key + "\" must be a string");
  return j[key].get<std::string>();
}

std::string question_id(const json& j, const std::string& where, int64_t line) {
  if (!j.contains("id")) return "line" + std::to_string(line);
  if (j["id"].is_string()) return j["id"].get<std::string>();
  if (j["id"].is_number_integer()) return std::to_string(j["id"].get<int64_t>());
  throw Error(where + ": \"id\" must be a string or an integer");
}

void read_choices(const json& j, const std::string& where, Question& q) {
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() < 2)
    throw Error(where + ": \"choices\" must be an array of at least 2 strings");
  for (const json& c : j["choices"]) {
    if (!c.is_string() || c.get<std::string>().empty())
      throw Error(where + ": \"choices\" must hold non-empty strings");
    q.choices.push_back(c.get<std::string>());
  }
  if (!j.contains("answer") || !j["answer"].is_number_integer())
    throw Error(where + ": \"answer\" must be the index of the right choice");
  q.answer_index = j["answer"].get<int64_t>();
  if (q.answer_index < 0 || q.answer_index >= int64_t(q.choices.size()))
    throw Error(where + ": \"answer\" " + std::to_string(q.answer_index) + " is out of range for " +
                std::to_string(q.choices.size()) + " choices");
}

Question read_question(const json& j, TaskKind kind, const std::string& where, int64_t line) {
  if (!j.is_object()) throw Error(where + ": a line must be a JSON object");
  Question q;
  q.id = question_id(j, where, line);
  switch (kind) {
    case TaskKind::multiple_choice:
      q.context = string_field(j, "context", where);
      read_choices(j, where, q);
      break;
    case TaskKind::generative:
      q.context = string_field(j, "prompt", where);
      if (j.contains("answer") && j["answer"].is_number_integer()) {
        q.answer = std::to_string(j["answer"].get<int64_t>());
      } else {
        q.answer = string_field(j, "answer", where);
      }
      break;
    case TaskKind::perplexity:
      q.context = string_field(j, "text", where);
      if (q.context.empty()) throw Error(where + ": \"text\" is empty");
      break;
  }
  return q;
}

}  // namespace

const char* task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::multiple_choice: return "multiple_choice";
    case TaskKind::generative: return "generative";
    case TaskKind::perplexity: return "perplexity";
  }
  return "?";
}

TaskKind parse_task_kind(std::string_view name, std::string_view what) {
  for (TaskKind k : {TaskKind::multiple_choice, TaskKind::generative, TaskKind::perplexity})
    if (name == task_kind_name(k)) return k;
  throw Error(std::string(what) + ": unknown task type '" + std::string(name) +
              "' (multiple_choice, generative or perplexity)");
}

Task parse_task(const TaskSpec& spec, std::string_view jsonl, std::string_view source) {
  Task t;
  t.spec = spec;
  std::set<std::string> ids;
  std::istringstream in{std::string(jsonl)};
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = std::string(source) + ":" + std::to_string(line);
    json j;
    try {
      j = json::parse(text);
    } catch (const json::exception& e) {
      throw Error(where + ": not JSON: " + e.what());
    }
    Question q = read_question(j, spec.kind, where, line);
    if (!ids.insert(q.id).second) throw Error(where + ": duplicate id '" + q.id + "'");
    const bool example = j.is_object() && j.contains("fewshot") && j["fewshot"] == true;
    if (example && j.contains("target")) q.target = string_field(j, "target", where);
    (example ? t.fewshot : t.questions).push_back(std::move(q));
  }
  if (int64_t(t.fewshot.size()) < spec.num_fewshot)
    throw Error(std::string(source) + ": num_fewshot is " + std::to_string(spec.num_fewshot) + " but the file has " +
                std::to_string(t.fewshot.size()) + " lines with \"fewshot\": true");
  if (spec.limit >= 0 && int64_t(t.questions.size()) > spec.limit) t.questions.resize(size_t(spec.limit));
  if (t.questions.empty()) throw Error(std::string(source) + ": no questions to score");
  return t;
}

Task load_task(const TaskSpec& spec) {
  std::ifstream in(spec.path, std::ios::binary);
  if (!in) throw Error("task '" + spec.name + "': cannot read " + spec.path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_task(spec, ss.str(), spec.path);
}

}  // namespace moxie::eval
