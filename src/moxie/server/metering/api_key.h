#pragma once
// API key secrets: generation, hashing and the Authorization header.
//
// A secret looks like "mx-" followed by 43 base64url characters (32 random bytes from
// getrandom). It is shown once; the store keeps only its SHA-256, so a leaked
// database does not leak working keys. Each key also has a public id ("key_" + 16
// hex digits) that reports, logs and `moxie keys revoke` use.
#include <string>
#include <string_view>

namespace moxie::metering {

std::string generate_secret();      // "mx-..." (46 characters)
std::string generate_key_id();      // "key_0123456789abcdef"
std::string generate_reservation_id();  // "res_" + 32 hex digits

// Lower-case hex SHA-256 of the bytes (libcrypto's FIPS 180-4 implementation).
std::string sha256_hex(std::string_view bytes);

// The token of an "Authorization: Bearer <token>" header value; empty when the value
// is empty (no header). Throws moxie::Error when the header is present but not a
// Bearer credential.
std::string bearer_token(std::string_view authorization_header);

// Fills `n` bytes from the kernel's random source (getrandom), retrying short reads.
void random_bytes(void* out, size_t n);

}  // namespace moxie::metering
