#pragma once
// Journal: the append-only JSONL file that makes an eval resumable. The first line holds
// the run's settings; then one line per finished question, written and fsync'ed before
// the next question's result can be counted. A restarted run reads it back and skips every
// (model, task, question id) it holds; a torn last line (the process killed mid-write) is
// dropped and rewritten. A journal from different settings is refused, not mixed.
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <nlohmann/json_fwd.hpp>

namespace moxie::eval {

using RecordKey = std::tuple<std::string, std::string, std::string>;  // model, task, question id

class Journal {
 public:
  // Opens or creates path. Throws moxie::Error naming the file when it cannot be written or
  // its settings line differs from settings_json.
  Journal(const std::string& path, const std::string& settings_json);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  bool has(const RecordKey& key) const;
  // Appends and fsyncs one record (a JSON object with "model", "task" and "id"); thread-safe.
  void append(const nlohmann::ordered_json& record);
  // Every record read back or appended, by key (serialized JSON).
  std::map<RecordKey, std::string> records() const;

 private:
  void write_line(const std::string& line);
  std::string path_;
  int fd_ = -1;
  mutable std::mutex mu_;
  std::map<RecordKey, std::string> records_;
};

RecordKey record_key(const nlohmann::ordered_json& record);

}  // namespace moxie::eval
