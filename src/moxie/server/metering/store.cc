#include "moxie/server/metering/store.h"

#include <cstdlib>
#include <filesystem>

#include "moxie/core/error.h"

namespace moxie::metering {

Store::Store(const std::string& url, const StoreOptions& options) {
  auto first = open_sql(url, options.sqlite);
  dialect_ = first->dialect();
  schema_version_ = migrate(*first);
  const int wanted = options.connections > 0 ? options.connections : (dialect_ == SqlDialect::sqlite ? 1 : 8);
  idle_.push_back(std::move(first));
  for (int i = 1; i < wanted; ++i) idle_.push_back(open_sql(url, options.sqlite));
}

Store::~Store() = default;

std::string default_database_url() {
  if (const char* env = std::getenv("MOXIE_DB"); env && *env) return env;
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw Error("metering database: set --db or MOXIE_DB (no $HOME for the default)");
  const std::filesystem::path dir = std::filesystem::path(home) / ".local/share/moxie";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the metering folder: " + ec.message());
  return (dir / "metering.db").string();
}

std::unique_ptr<SqlDb> Store::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty(); });
  auto db = std::move(idle_.back());
  idle_.pop_back();
  return db;
}

void Store::release(std::unique_ptr<SqlDb> db) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(db));
  }
  available_.notify_one();
}

}  // namespace moxie::metering
