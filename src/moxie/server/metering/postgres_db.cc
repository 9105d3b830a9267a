// SqlDb over PostgreSQL (libpqxx). Several `moxie serve` replicas share one database:
// budgets stay exact because each read-modify-write locks the rows it changes
// (SELECT ... FOR UPDATE) inside a READ COMMITTED transaction.
#include <memory>

#include <pqxx/pqxx>

#include "moxie/core/error.h"
#include "moxie/server/metering/sql.h"

namespace moxie::metering {
namespace {

// The common statements use '?'; PostgreSQL numbers its placeholders ($1, $2, ...).
// None of our statements has a '?' inside a string literal.
std::string numbered_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  for (char c : sql) {
    if (c == '?') {
      out += '$' + std::to_string(next++);
    } else {
      out += c;
    }
  }
  return out;
}

class PostgresDb final : public SqlDb {
 public:
  explicit PostgresDb(const std::string& url) : url_(redacted(url)) {
    try {
      conn_ = std::make_unique<pqxx::connection>(url);
    } catch (const std::exception& e) {
      throw Error("cannot connect to PostgreSQL at " + url_ + ": " + e.what());
    }
  }

  SqlDialect dialect() const override { return SqlDialect::postgres; }

  void exec_script(std::string_view sql) override {
    guarded([&] {
      if (tx_) {
        tx_->exec(std::string(sql));
      } else {
        pqxx::nontransaction n(*conn_);
        n.exec(std::string(sql));
      }
    });
  }

  SqlRows query(std::string_view sql, const std::vector<SqlValue>& params) override {
    SqlRows rows;
    guarded([&] {
      std::vector<std::string> text(params.size());
      std::vector<const char*> values(params.size(), nullptr);  // nullptr binds NULL
      for (size_t i = 0; i < params.size(); ++i) {
        if (is_null(params[i])) continue;
        text[i] = as_text(params[i]);
        values[i] = text[i].c_str();
      }
      const std::string statement = numbered_placeholders(sql);
      const auto args = pqxx::prepare::make_dynamic_params(values);
      pqxx::result r;
      if (tx_) {
        r = tx_->exec_params(statement, args);
      } else {
        pqxx::nontransaction n(*conn_);
        r = n.exec_params(statement, args);
      }
      for (const auto& row : r) {
        SqlRow out;
        for (const auto& field : row) {
          if (field.is_null()) {
            out.emplace_back(std::monostate{});
          } else {
            out.emplace_back(std::string(field.c_str(), field.size()));
          }
        }
        rows.push_back(std::move(out));
      }
    });
    return rows;
  }

  void begin_write(bool /*durable: always, with the server's default synchronous_commit*/) override {
    guarded([&] { tx_ = std::make_unique<pqxx::work>(*conn_); });
  }
  void commit() override {
    guarded([&] {
      tx_->commit();
      tx_.reset();
    });
  }
  void rollback() noexcept override {
    if (!tx_) return;
    try {
      tx_->abort();
    } catch (...) {
    }
    tx_.reset();
  }

 private:
  // The password never appears in an error message.
  static std::string redacted(const std::string& url) {
    const size_t scheme = url.find("://");
    const size_t at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const size_t colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon) + ":***" + url.substr(at);
  }

  template <typename F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      if (tx_) rollback();
      throw Error("PostgreSQL " + url_ + ": " + e.what());
    }
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> tx_;
};

}  // namespace

std::unique_ptr<SqlDb> open_postgres(const std::string& url) { return std::make_unique<PostgresDb>(url); }

}  // namespace moxie::metering
