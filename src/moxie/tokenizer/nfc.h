#pragma once
// Unicode Normalization Form C (canonical decomposition, then canonical composition),
// as Qwen2/Qwen3's tokenizer.json asks for ("normalizer": {"type": "NFC"}).
// Data: Unicode 15.0 from Debian's unicode-data (see unicode_tables.h).
#include <string>
#include <string_view>

namespace moxie::tokenizer {

// Writes the NFC form of text to *out and returns true, or returns false (leaving *out
// alone) when text is already in NFC, which is the common case and costs one scan.
// Bytes that are not valid UTF-8 are kept as they are and never combine with anything.
bool nfc_normalize(std::string_view text, std::string* out);

}  // namespace moxie::tokenizer
