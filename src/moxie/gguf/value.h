#pragma once
// One GGUF metadata value: a scalar, a string, or an array (of scalars, of strings, or of
// arrays). Values read from a file are views: strings point into the file's mapping, so a
// GgufValue must not outlive the GgufFile it came from. Numeric arrays are copied once
// into aligned storage (one allocation per array, none per element) so they can be
// handed out as spans. Values built by the make_* helpers for the writer view the
// caller's strings and child values, which must outlive the writer call.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moxie {

// Numbered as gguf_metadata_value_type in the GGUF spec.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

// "u8", "i32", "f64", "bool", "string", "array"; "?" for an id outside the enum.
std::string_view gguf_type_name(GgufType t);
bool gguf_type_known(uint32_t id);
// Bytes of one element of a fixed-size type, 0 for STRING and ARRAY.
int gguf_type_size(GgufType t);
inline bool gguf_type_is_integer(GgufType t) {
  return t == GgufType::U8 || t == GgufType::I8 || t == GgufType::U16 || t == GgufType::I16 ||
         t == GgufType::U32 || t == GgufType::I32 || t == GgufType::U64 || t == GgufType::I64;
}
inline bool gguf_type_is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

template <class T>
constexpr GgufType gguf_type_of();  // U8 for uint8_t, ..., F64 for double; bool -> BOOL

class GgufValue {
 public:
  GgufValue() = default;

  // Scalars. Each stores its GGUF type exactly; the integer ones keep the value's bits.
  static GgufValue make_u8(uint8_t v) { return scalar(GgufType::U8, v); }
  static GgufValue make_i8(int8_t v) { return scalar(GgufType::I8, uint64_t(int64_t(v))); }
  static GgufValue make_u16(uint16_t v) { return scalar(GgufType::U16, v); }
  static GgufValue make_i16(int16_t v) { return scalar(GgufType::I16, uint64_t(int64_t(v))); }
  static GgufValue make_u32(uint32_t v) { return scalar(GgufType::U32, v); }
  static GgufValue make_i32(int32_t v) { return scalar(GgufType::I32, uint64_t(int64_t(v))); }
  static GgufValue make_u64(uint64_t v) { return scalar(GgufType::U64, v); }
  static GgufValue make_i64(int64_t v) { return scalar(GgufType::I64, uint64_t(v)); }
  static GgufValue make_f32(float v);
  static GgufValue make_f64(double v);
  static GgufValue make_bool(bool v) { return scalar(GgufType::BOOL, v ? 1 : 0); }
  static GgufValue make_string(std::string_view s);
  // Arrays. Numeric element bytes are copied; strings and child values are viewed.
  template <class T>
  static GgufValue make_array(std::span<const T> items) {
    return numeric_array(gguf_type_of<T>(), items.data(), items.size());
  }
  static GgufValue make_string_array(std::span<const std::string_view> items);
  static GgufValue make_string_array(std::span<const std::string> items);
  static GgufValue make_array_of_arrays(std::span<const GgufValue> items);  // each must be an array

  GgufType type() const { return type_; }
  // Byte offset in the file where the value (after its type id) starts; 0 for built values.
  uint64_t file_offset() const { return file_offset_; }

  // Scalar access. to_* return false when the type is wrong or the value does not fit.
  bool to_u64(uint64_t* out) const;
  bool to_i64(int64_t* out) const;
  bool to_f64(double* out) const;  // F32 or F64 only
  bool to_bool(bool* out) const;
  std::string_view str() const { return str_; }  // STRING only, else empty

  // Array access (type() == ARRAY).
  GgufType elem_type() const { return elem_type_; }
  uint64_t size() const { return count_; }
  // Elements of a numeric array when T matches elem_type() exactly; empty span otherwise.
  template <class T>
  std::span<const T> numbers() const {
    if (type_ != GgufType::ARRAY || elem_type_ != gguf_type_of<T>()) return {};
    return {reinterpret_cast<const T*>(numbers_.data()), static_cast<size_t>(count_)};
  }
  std::span<const std::string_view> strings() const { return strings_; }  // elem STRING
  std::span<const GgufValue> items() const { return items_; }             // elem ARRAY
  // Element i of a numeric or bool array as a scalar value (i < size()).
  GgufValue element(uint64_t i) const;

  // A short human-readable rendering: scalars in full, arrays summarized after max_items.
  std::string to_display_string(size_t max_items = 8) const;

 private:
  friend class GgufParser;
  static GgufValue scalar(GgufType t, uint64_t bits) {
    GgufValue v;
    v.type_ = t;
    v.bits_ = bits;
    return v;
  }
  static GgufValue numeric_array(GgufType elem, const void* data, size_t count);

  GgufType type_ = GgufType::U8;
  GgufType elem_type_ = GgufType::U8;
  uint64_t bits_ = 0;  // scalars: integers sign-extended to 64 bits, floats as their IEEE bits
  uint64_t count_ = 0;
  uint64_t file_offset_ = 0;
  std::string_view str_;
  std::vector<uint64_t> numbers_;  // numeric array bytes, 8-byte aligned storage
  std::vector<std::string_view> strings_;
  std::vector<GgufValue> items_;
};

template <> constexpr GgufType gguf_type_of<uint8_t>() { return GgufType::U8; }
template <> constexpr GgufType gguf_type_of<int8_t>() { return GgufType::I8; }
template <> constexpr GgufType gguf_type_of<uint16_t>() { return GgufType::U16; }
template <> constexpr GgufType gguf_type_of<int16_t>() { return GgufType::I16; }
template <> constexpr GgufType gguf_type_of<uint32_t>() { return GgufType::U32; }
template <> constexpr GgufType gguf_type_of<int32_t>() { return GgufType::I32; }
template <> constexpr GgufType gguf_type_of<float>() { return GgufType::F32; }
template <> constexpr GgufType gguf_type_of<bool>() { return GgufType::BOOL; }
template <> constexpr GgufType gguf_type_of<uint64_t>() { return GgufType::U64; }
template <> constexpr GgufType gguf_type_of<int64_t>() { return GgufType::I64; }
template <> constexpr GgufType gguf_type_of<double>() { return GgufType::F64; }

}  // namespace moxie
