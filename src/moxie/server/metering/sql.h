#pragma once
// The small SQL surface the metering store needs, with one implementation per
// database (sqlite_db.cc, postgres_db.cc). All statements are written once, in the
// common subset of SQLite and PostgreSQL, with '?' placeholders; values are always
// bound as parameters, never spliced into the text, so names and filters from users
// cannot change a statement.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace moxie::metering {

// NULL, an integer, or text. PostgreSQL returns every value as text; as_int parses.
using SqlValue = std::variant<std::monostate, int64_t, std::string>;
using SqlRow = std::vector<SqlValue>;
using SqlRows = std::vector<SqlRow>;

bool is_null(const SqlValue& v);
int64_t as_int(const SqlValue& v);          // throws moxie::Error on NULL or non-numbers
std::string as_text(const SqlValue& v);     // integers are formatted; NULL is ""

enum class SqlDialect { sqlite, postgres };

// One connection. Not thread-safe: the store hands each to one thread at a time.
class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual SqlDialect dialect() const = 0;
  // Runs one or more statements without parameters (schema changes).
  virtual void exec_script(std::string_view sql) = 0;
  virtual SqlRows query(std::string_view sql, const std::vector<SqlValue>& params) = 0;
  // A transaction that takes the write lock at once (SQLite BEGIN IMMEDIATE), so two
  // writers never both read a budget and then both spend it. On PostgreSQL rows are
  // additionally locked with the dialect's "FOR UPDATE" (see for_update()).
  // durable: the commit must reach the disk (fsync), not only the OS, before it returns
  // (SQLite with SqliteOptions::fsync_settlements; PostgreSQL commits are always synced).
  virtual void begin_write(bool durable) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // " FOR UPDATE" on PostgreSQL, "" on SQLite (whose transaction already holds the lock).
  const char* for_update() const { return dialect() == SqlDialect::postgres ? " FOR UPDATE" : ""; }
};

struct SqliteOptions {
  // Every commit is in the WAL file (so in the OS) before it returns: it survives a killed
  // process. With fsync_settlements, settlements (the usage rows) are also fsync'ed, so
  // they survive a power loss too, at the cost of one disk flush per request.
  bool fsync_settlements = false;
  int busy_timeout_ms = 30'000;
};

// "postgresql://..." or "postgres://..." opens PostgreSQL; anything else is a SQLite
// file path (created if missing, opened in WAL mode). Throws moxie::Error naming the
// database on failure.
std::unique_ptr<SqlDb> open_sql(const std::string& url, const SqliteOptions& sqlite_options = {});
std::unique_ptr<SqlDb> open_sqlite(const std::string& path, const SqliteOptions& options);
std::unique_ptr<SqlDb> open_postgres(const std::string& url);

bool is_postgres_url(std::string_view url);

}  // namespace moxie::metering
