#include "moxie/tokenizer/byte_level.h"

#include <array>

#include "moxie/tokenizer/unicode.h"

namespace moxie::tokenizer {
namespace {

bool is_printable_byte(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteLevelTables {
  std::array<uint32_t, 256> code_point{};
  std::array<int16_t, 0x144> byte_of{};  // [code point < U+0144] -> byte, or -1

  ByteLevelTables() {
    byte_of.fill(-1);
    uint32_t next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      code_point[b] = is_printable_byte(b) ? b : next++;
      byte_of[code_point[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

}  // namespace

uint32_t byte_to_code_point(uint8_t byte) { return tables().code_point[byte]; }

bool byte_level_to_bytes(std::string_view text, std::string* bytes) {
  const auto& t = tables();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    i += decode_utf8(s + i, text.size() - i, &cp);
    if (cp >= t.byte_of.size() || t.byte_of[cp] < 0) return false;
    bytes->push_back(static_cast<char>(t.byte_of[cp]));
  }
  return true;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  char buf[4];
  for (unsigned char b : bytes) out.append(buf, encode_utf8(byte_to_code_point(b), buf));
  return out;
}

}  // namespace moxie::tokenizer
