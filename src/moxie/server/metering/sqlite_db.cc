// SqlDb over SQLite: one file, WAL journal (readers never block the writer), prepared
// statements cached per connection, writers serialised by BEGIN IMMEDIATE and the
// busy timeout, across threads and processes alike.
#include <sqlite3.h>

#include <map>

#include "moxie/core/error.h"
#include "moxie/server/metering/sql.h"

namespace moxie::metering {
namespace {

class SqliteDb final : public SqlDb {
 public:
  SqliteDb(const std::string& path, const SqliteOptions& options)
      : path_(path), fsync_settlements_(options.fsync_settlements) {
    const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw Error(path + ": cannot open SQLite database: " + why);
    }
    sqlite3_busy_timeout(db_, options.busy_timeout_ms);
    try {
      exec_script("PRAGMA journal_mode=WAL");
      exec_script("PRAGMA synchronous=NORMAL");
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }

  ~SqliteDb() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  SqlDialect dialect() const override { return SqlDialect::sqlite; }

  void exec_script(std::string_view sql) override {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      const std::string why = message ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      throw Error(path_ + ": " + why);
    }
  }

  SqlRows query(std::string_view sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* stmt = prepared(sql);
    // Reset on every exit so the statement never holds a read snapshot open.
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    bind(stmt, params);
    SqlRows rows;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) throw Error(path_ + ": " + sqlite3_errmsg(db_));
      rows.push_back(read_row(stmt));
    }
  }

  void begin_write(bool durable) override {
    // In WAL mode FULL syncs the log at commit, and with it every earlier NORMAL commit.
    const bool full = durable && fsync_settlements_;
    if (full != synchronous_full_) {
      exec_script(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      synchronous_full_ = full;
    }
    exec_script("BEGIN IMMEDIATE");
  }
  void commit() override { exec_script("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3_stmt* prepared(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
      throw Error(path_ + ": " + sqlite3_errmsg(db_));
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  void bind(sqlite3_stmt* stmt, const std::vector<SqlValue>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      int rc = SQLITE_OK;
      if (const auto* n = std::get_if<int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(stmt, index, *n);
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        rc = sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else {
        rc = sqlite3_bind_null(stmt, index);
      }
      if (rc != SQLITE_OK) throw Error(path_ + ": cannot bind parameter " + std::to_string(index));
    }
  }

  static SqlRow read_row(sqlite3_stmt* stmt) {
    SqlRow row;
    const int n = sqlite3_column_count(stmt);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL: row.emplace_back(std::monostate{}); break;
        case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c))); break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.emplace_back(std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
    }
    return row;
  }

  std::string path_;
  bool fsync_settlements_ = false;
  bool synchronous_full_ = false;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace

std::unique_ptr<SqlDb> open_sqlite(const std::string& path, const SqliteOptions& options) {
  return std::make_unique<SqliteDb>(path, options);
}

}  // namespace moxie::metering
