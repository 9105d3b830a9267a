#pragma once
// The databases every metering test runs against: a fresh SQLite file, and PostgreSQL
// when MOXIE_TEST_PG_URL names one (tests/metering/pg.sh starts a throwaway cluster).
// Each PostgreSQL test gets its own schema, so tests running in parallel never meet.
// With MOXIE_REQUIRE_PG=1 (CI) a missing PostgreSQL fails the test instead of skipping.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "moxie/server/metering/sql.h"
#include "moxie/server/metering/store.h"

namespace moxie::metering::testing {

enum class Backend { sqlite, postgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

// A database URL for one test, removed again when the object goes away.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend) : backend_(backend) {
    static std::atomic<int> counter{0};
    const std::string unique = std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
                               std::to_string(std::random_device{}() % 1000000);
    if (backend == Backend::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("moxie_meter_" + unique);
      std::filesystem::create_directories(dir_);
      url_ = (dir_ / "metering.db").string();
      return;
    }
    const char* base = std::getenv("MOXIE_TEST_PG_URL");
    if (!base || !*base) return;
    schema_ = "moxie_t_" + unique;
    admin_ = open_postgres(base);
    admin_->exec_script("CREATE SCHEMA " + schema_);
    const std::string b = base;
    url_ = b + (b.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
  }

  ~TestDatabase() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (admin_) admin_->exec_script("DROP SCHEMA " + schema_ + " CASCADE");
  }

  // False (and the caller skips or fails) when PostgreSQL is wanted but not configured.
  bool available() const { return !url_.empty(); }
  const std::string& url() const { return url_; }
  Backend backend() const { return backend_; }

 private:
  Backend backend_;
  std::filesystem::path dir_;
  std::string schema_;
  std::unique_ptr<SqlDb> admin_;
  std::string url_;
};

inline bool postgres_required() {
  const char* v = std::getenv("MOXIE_REQUIRE_PG");
  return v && std::string(v) == "1";
}

// SetUp of a fixture parameterised on Backend: creates the database or skips/fails.
#define MOXIE_OPEN_TEST_DATABASE(db_member)                                                  \
  do {                                                                                       \
    db_member = std::make_unique<::moxie::metering::testing::TestDatabase>(GetParam());      \
    if (!db_member->available()) {                                                           \
      if (::moxie::metering::testing::postgres_required())                                   \
        FAIL() << "MOXIE_REQUIRE_PG=1 but MOXIE_TEST_PG_URL is not set (tests/metering/pg.sh)"; \
      GTEST_SKIP() << "PostgreSQL not configured: set MOXIE_TEST_PG_URL (tests/metering/pg.sh)"; \
    }                                                                                        \
  } while (0)

}  // namespace moxie::metering::testing
