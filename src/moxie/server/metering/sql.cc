#include "moxie/server/metering/sql.h"

#include <charconv>

#include "moxie/core/error.h"

namespace moxie::metering {

bool is_null(const SqlValue& v) { return std::holds_alternative<std::monostate>(v); }

int64_t as_int(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec == std::errc() && end == s->data() + s->size()) return out;
    throw Error("database returned '" + *s + "' where an integer was expected");
  }
  throw Error("database returned NULL where an integer was expected");
}

std::string as_text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return {};
}

bool is_postgres_url(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::unique_ptr<SqlDb> open_sql(const std::string& url, const SqliteOptions& sqlite_options) {
  if (url.empty()) throw Error("metering database: empty path");
  if (is_postgres_url(url)) return open_postgres(url);
  return open_sqlite(url, sqlite_options);
}

}  // namespace moxie::metering
