#include "moxie/core/dtype.h"

#include <cctype>
#include <string>

namespace moxie {
namespace {

// Block sizes and bytes follow ggml-common.h's block structs (static_asserted in
// quant_blocks.h for the types we compute with).
struct Entry {
  uint32_t id;
  DTypeInfo info;
};
constexpr Entry kEntries[] = {
    {0, {"f32", 1, 4, true}},          {1, {"f16", 1, 2, true}},
    {2, {"q4_0", 32, 18, true}},       {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},       {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},       {9, {"q8_1", 32, 36, false}},
    {10, {"q2_K", 256, 84, false}},    {11, {"q3_K", 256, 110, false}},
    {12, {"q4_K", 256, 144, true}},    {13, {"q5_K", 256, 176, true}},
    {14, {"q6_K", 256, 210, true}},    {15, {"q8_K", 256, 292, true}},
    {16, {"iq2_xxs", 256, 66, false}}, {17, {"iq2_xs", 256, 74, false}},
    {18, {"iq3_xxs", 256, 98, false}}, {19, {"iq1_s", 256, 50, false}},
    {20, {"iq4_nl", 32, 18, false}},   {21, {"iq3_s", 256, 110, false}},
    {22, {"iq2_s", 256, 82, false}},   {23, {"iq4_xs", 256, 136, false}},
    {24, {"i8", 1, 1, false}},         {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},        {27, {"i64", 1, 8, false}},
    {28, {"f64", 1, 8, false}},        {29, {"iq1_m", 256, 56, false}},
    {30, {"bf16", 1, 2, true}},        {34, {"tq1_0", 256, 54, false}},
    {35, {"tq2_0", 256, 66, false}},   {39, {"mxfp4", 32, 17, true}},
    // 16 rows x (d, dmin, 8 scales, 8 mins, 128 nibble bytes) = 16 x 148; 16 x (d, 32 bytes).
    {100, {"q4_K_r16", 256, 148, false, false}}, {101, {"q8_0_r16", 32, 34, false, false}},
};

struct Table {
  const DTypeInfo* slot[kDTypeSlots] = {};
  constexpr Table() {
    for (const Entry& e : kEntries) slot[e.id] = &e.info;
  }
};
constexpr Table kTable;

}  // namespace

const DTypeInfo* dtype_info(uint32_t id) { return id < kDTypeSlots ? kTable.slot[id] : nullptr; }

const DTypeInfo& dtype_info(DType t) { return *kTable.slot[static_cast<uint32_t>(t)]; }

std::string_view dtype_name(DType t) { return dtype_info(t).name; }

bool dtype_from_name(std::string_view name, DType* out) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Entry& e : kEntries) {
    if (!e.info.in_files) continue;  // names users may type are GGUF types only
    std::string candidate(e.info.name);
    for (char& c : candidate) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (candidate == lower) {
      *out = static_cast<DType>(e.id);
      return true;
    }
  }
  return false;
}

}  // namespace moxie
