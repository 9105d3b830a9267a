// libFuzzer target for the GGUF reader: parse the input as a file, then touch everything
// a caller could touch (every metadata value, the summary, the first and last byte of each
// tensor). Any crash, sanitizer report or exception other than moxie::Error is a bug.
#include <cstddef>
#include <cstdint>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/summary.h"

namespace {
size_t walk_value(const moxie::GgufValue& v) {
  size_t n = v.to_display_string(4).size();
  if (v.type() != moxie::GgufType::ARRAY) return n;
  for (uint64_t i = 0; i < v.size(); ++i) {
    if (v.elem_type() == moxie::GgufType::ARRAY) n += walk_value(v.items()[i]);
    else if (v.elem_type() == moxie::GgufType::STRING) n += v.strings()[i].size();
    else n += v.element(i).to_display_string().size();
  }
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const moxie::GgufFile f = moxie::GgufFile::parse(data, size, "fuzz.gguf");
    volatile size_t sink = 0;
    for (const moxie::GgufKeyValue& kv : f.metadata()) sink = sink + walk_value(kv.value);
    for (const moxie::GgufTensorInfo& t : f.tensors()) {
      const auto* p = static_cast<const volatile uint8_t*>(t.view.data);
      sink = sink + p[0] + p[t.n_bytes - 1];
    }
    sink = sink + moxie::format_inspect_text(f).size() + moxie::format_inspect_json(f).size();
    (void)f.opt_u32("general.alignment");
  } catch (const moxie::Error&) {
    // rejected cleanly
  }
  return 0;
}
