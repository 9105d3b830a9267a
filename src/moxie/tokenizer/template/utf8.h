#pragma once
// UTF-8 helpers: Python strings index by code point, ours are UTF-8 bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moxie::tmpl {

// Decodes the code point at byte `pos` and advances `pos` past it. A malformed byte
// decodes as U+FFFD and advances one byte, so every loop over a string terminates.
uint32_t utf8_next(std::string_view s, size_t& pos);
void utf8_append(std::string& out, uint32_t cp);
size_t utf8_length(std::string_view s);
// Byte offset of every code point, plus s.size() at the end: [n_code_points + 1].
std::vector<size_t> utf8_offsets(std::string_view s);

}  // namespace moxie::tmpl
