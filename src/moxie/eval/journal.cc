#include "moxie/eval/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie::eval {

RecordKey record_key(const nlohmann::ordered_json& r) {
  return {r.at("model").get<std::string>(), r.at("task").get<std::string>(), r.at("id").get<std::string>()};
}

Journal::Journal(const std::string& path, const std::string& settings_json) : path_(path) {
  std::string header;
  size_t good_bytes = 0;  // up to the end of the last complete line
  {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    size_t offset = 0;
    while (in && std::getline(in, line)) {
      const bool complete = !in.eof();
      if (!complete) break;  // a torn last line: dropped
      offset += line.size() + 1;
      if (header.empty()) {
        header = line;
        good_bytes = offset;
        continue;
      }
      try {
        const nlohmann::ordered_json r = nlohmann::ordered_json::parse(line);
        records_[record_key(r)] = line;
        good_bytes = offset;
      } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": byte " + std::to_string(offset - line.size() - 1) + ": unreadable record: " + e.what());
      }
    }
  }
  const std::string want = nlohmann::ordered_json{{"settings", nlohmann::ordered_json::parse(settings_json)}}.dump();
  if (!header.empty() && header != want)
    throw Error(path + ": this journal was written with other settings; use another output folder or delete it");
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  if (::ftruncate(fd_, off_t(good_bytes)) != 0 || ::lseek(fd_, off_t(good_bytes), SEEK_SET) < 0)
    throw Error(path + ": cannot truncate the torn last line: " + std::strerror(errno));
  if (header.empty()) write_line(want);
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::write_line(const std::string& text) {
  const std::string line = text + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path_ + ": write failed: " + std::strerror(errno));
    done += size_t(n);
  }
  if (::fsync(fd_) != 0) throw Error(path_ + ": fsync failed: " + std::strerror(errno));
}

bool Journal::has(const RecordKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.count(key) > 0;
}

void Journal::append(const nlohmann::ordered_json& record) {
  const std::string line = record.dump();
  std::lock_guard<std::mutex> lock(mu_);
  write_line(line);
  records_[record_key(record)] = line;
}

std::map<RecordKey, std::string> Journal::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

}  // namespace moxie::eval
