#pragma once
// Times on the command line and in reports: UTC, microseconds since the Unix epoch.
#include <cstdint>
#include <string>
#include <string_view>

namespace moxie::metering {

// "2025-06-30", "2025-06-30T12:00:00Z" (UTC), or a span back from now_us: "30m", "24h",
// "7d". Throws moxie::Error naming `what` (e.g. "--since").
int64_t parse_time(std::string_view text, int64_t now_us, std::string_view what);
// "2025-06-30T12:00:00Z"
std::string format_time(int64_t us);
// "2025-06-30" for a day number (days since 1970-01-01).
std::string format_day(int64_t day);

}  // namespace moxie::metering
