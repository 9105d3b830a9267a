#pragma once
// GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable code point, so
// vocabularies (tokenizer.json, GGUF tokenizer.ggml.tokens) store byte strings as text.
// Printable bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the
// other 68 bytes map, in increasing order, to U+0100..U+0143 (so ' ' is 'Ġ' U+0120).
#include <cstdint>
#include <string>
#include <string_view>

namespace moxie::tokenizer {

uint32_t byte_to_code_point(uint8_t byte);

// Converts byte-level text back to bytes. Returns false (leaving *bytes partial) when
// the text holds a character outside the alphabet or is not valid UTF-8.
bool byte_level_to_bytes(std::string_view text, std::string* bytes);

// The byte-level text of a byte string (the inverse of byte_level_to_bytes).
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace moxie::tokenizer
