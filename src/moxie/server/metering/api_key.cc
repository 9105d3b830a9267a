#include "moxie/server/metering/api_key.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <openssl/sha.h>

#include "moxie/core/error.h"

namespace moxie::metering {
namespace {
std::string hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string random_hex(size_t n_bytes) {
  uint8_t buf[64];
  random_bytes(buf, n_bytes);
  return hex(buf, n_bytes);
}

// RFC 4648 section 5 alphabet, no padding.
std::string base64url(const uint8_t* bytes, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}
}  // namespace

void random_bytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    const ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

std::string generate_secret() {
  uint8_t buf[32];
  random_bytes(buf, sizeof buf);
  return "mx-" + base64url(buf, sizeof buf);
}

std::string generate_key_id() { return "key_" + random_hex(8); }
std::string generate_reservation_id() { return "res_" + random_hex(16); }

std::string sha256_hex(std::string_view bytes) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return hex(digest, sizeof digest);
}

std::string bearer_token(std::string_view header) {
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  if (header.empty()) return {};
  // The scheme is case-insensitive (RFC 7235 section 2.1).
  constexpr std::string_view kScheme = "bearer ";
  bool is_bearer = header.size() > kScheme.size();
  for (size_t i = 0; is_bearer && i < kScheme.size(); ++i)
    is_bearer = (header[i] | 0x20) == kScheme[i] || (kScheme[i] == ' ' && header[i] == ' ');
  if (!is_bearer) throw Error("Authorization header is not 'Bearer <key>'");
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return std::string(header);
}

}  // namespace moxie::metering
