#pragma once
// Store: the metering database (SQLite file or PostgreSQL URL) behind a small pool of
// connections, with its schema migrated on open. Keys (keys_table.h), the ledger
// (ledger.h) and reports (usage_report.h) are written once against it and behave the
// same on both databases.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "moxie/server/metering/sql.h"

namespace moxie::metering {

struct StoreOptions {
  SqliteOptions sqlite;
  // Connections kept open; 0 picks 1 for SQLite (one writer at a time anyway; in-process
  // waiting on a mutex is cheaper than SQLite's sleeping busy handler) and 8 for PostgreSQL.
  int connections = 0;
};

class Store {
 public:
  // Opens (creating if needed) and migrates the database. Throws moxie::Error.
  explicit Store(const std::string& url, const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  SqlDialect dialect() const { return dialect_; }
  int schema_version() const { return schema_version_; }

  // Runs f(SqlDb&) on a pooled connection, outside any transaction.
  template <typename F>
  auto read(F&& f) {
    Lease lease(*this);
    return f(*lease.db);
  }

  // Runs f(SqlDb&) inside a write transaction: committed when f returns, rolled back
  // when it throws. durable: see SqlDb::begin_write.
  template <typename F>
  auto write(F&& f, bool durable = false) {
    Lease lease(*this);
    lease.db->begin_write(durable);
    try {
      if constexpr (std::is_void_v<decltype(f(*lease.db))>) {
        f(*lease.db);
        lease.db->commit();
      } else {
        auto result = f(*lease.db);
        lease.db->commit();
        return result;
      }
    } catch (...) {
      lease.db->rollback();
      throw;
    }
  }

 private:
  struct Lease {
    explicit Lease(Store& s) : store(s), db(s.acquire()) {}
    ~Lease() { store.release(std::move(db)); }
    Store& store;
    std::unique_ptr<SqlDb> db;
  };
  std::unique_ptr<SqlDb> acquire();
  void release(std::unique_ptr<SqlDb> db);

  SqlDialect dialect_;
  int schema_version_ = 0;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<SqlDb>> idle_;
};

// Where `moxie keys`, `moxie usage` and `moxie serve` keep the ledger unless --db says:
// $MOXIE_DB if set, else $HOME/.local/share/moxie/metering.db (folder created).
std::string default_database_url();

// Applies every migration newer than the database's version; returns the version now.
// Defined in schema.cc.
int migrate(SqlDb& db);

}  // namespace moxie::metering
