#include "moxie/server/metering/time_text.h"

#include <ctime>
#include <optional>

#include "moxie/core/error.h"

namespace moxie::metering {
namespace {
constexpr int64_t kMicrosPerSecond = 1'000'000;

bool read_int(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<int64_t> parse_span(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  const char unit = text.back();
  const int64_t seconds_per_unit = unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
  if (seconds_per_unit == 0 || text.size() > 8) return std::nullopt;
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n * seconds_per_unit * kMicrosPerSecond;
}
}  // namespace

int64_t parse_time(std::string_view text, int64_t now_us, std::string_view what) {
  if (auto span = parse_span(text)) return now_us - *span;
  std::tm tm{};
  int year = 0, month = 0, day = 0;
  const bool date_ok = text.size() >= 10 && read_int(text, 0, 4, &year) && text[4] == '-' &&
                       read_int(text, 5, 2, &month) && text[7] == '-' && read_int(text, 8, 2, &day);
  bool ok = date_ok && (text.size() == 10 || text.size() == 20);
  if (ok && text.size() == 20) {
    ok = text[10] == 'T' && read_int(text, 11, 2, &tm.tm_hour) && text[13] == ':' && read_int(text, 14, 2, &tm.tm_min) &&
         text[16] == ':' && read_int(text, 17, 2, &tm.tm_sec) && text[19] == 'Z';
  }
  ok = ok && month >= 1 && month <= 12 && day >= 1 && day <= 31 && tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec < 60;
  if (!ok)
    throw Error(std::string(what) + ": '" + std::string(text) +
                "' is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or 30m / 24h / 7d ago)");
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  return static_cast<int64_t>(timegm(&tm)) * kMicrosPerSecond;
}

std::string format_time(int64_t us) {
  const time_t seconds = static_cast<time_t>(us / kMicrosPerSecond - (us % kMicrosPerSecond < 0 ? 1 : 0));
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_day(int64_t day) { return format_time(day * 86400 * kMicrosPerSecond).substr(0, 10); }

}  // namespace moxie::metering
