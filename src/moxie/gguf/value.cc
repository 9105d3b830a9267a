#include "moxie/gguf/value.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>

namespace moxie {

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

bool gguf_type_known(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::F64); }

int gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return 0;
}

GgufValue GgufValue::make_f32(float v) { return scalar(GgufType::F32, std::bit_cast<uint32_t>(v)); }
GgufValue GgufValue::make_f64(double v) { return scalar(GgufType::F64, std::bit_cast<uint64_t>(v)); }

GgufValue GgufValue::make_string(std::string_view s) {
  GgufValue v;
  v.type_ = GgufType::STRING;
  v.str_ = s;
  return v;
}

GgufValue GgufValue::numeric_array(GgufType elem, const void* data, size_t count) {
  GgufValue v;
  v.type_ = GgufType::ARRAY;
  v.elem_type_ = elem;
  v.count_ = count;
  const size_t bytes = count * static_cast<size_t>(gguf_type_size(elem));
  v.numbers_.resize((bytes + 7) / 8);
  if (bytes != 0) std::memcpy(v.numbers_.data(), data, bytes);
  return v;
}

GgufValue GgufValue::make_string_array(std::span<const std::string_view> items) {
  GgufValue v;
  v.type_ = GgufType::ARRAY;
  v.elem_type_ = GgufType::STRING;
  v.count_ = items.size();
  v.strings_.assign(items.begin(), items.end());
  return v;
}

GgufValue GgufValue::make_string_array(std::span<const std::string> items) {
  std::vector<std::string_view> views(items.begin(), items.end());
  return make_string_array(std::span<const std::string_view>(views));
}

GgufValue GgufValue::make_array_of_arrays(std::span<const GgufValue> items) {
  GgufValue v;
  v.type_ = GgufType::ARRAY;
  v.elem_type_ = GgufType::ARRAY;
  v.count_ = items.size();
  v.items_.assign(items.begin(), items.end());
  return v;
}

bool GgufValue::to_u64(uint64_t* out) const {
  if (!gguf_type_is_integer(type_)) return false;
  const bool is_signed = type_ == GgufType::I8 || type_ == GgufType::I16 ||
                         type_ == GgufType::I32 || type_ == GgufType::I64;
  if (is_signed && static_cast<int64_t>(bits_) < 0) return false;
  *out = bits_;
  return true;
}

bool GgufValue::to_i64(int64_t* out) const {
  if (!gguf_type_is_integer(type_)) return false;
  if (type_ == GgufType::U64 && bits_ > uint64_t(std::numeric_limits<int64_t>::max())) return false;
  *out = static_cast<int64_t>(bits_);
  return true;
}

bool GgufValue::to_f64(double* out) const {
  if (type_ == GgufType::F32) {
    *out = std::bit_cast<float>(static_cast<uint32_t>(bits_));
    return true;
  }
  if (type_ == GgufType::F64) {
    *out = std::bit_cast<double>(bits_);
    return true;
  }
  return false;
}

bool GgufValue::to_bool(bool* out) const {
  if (type_ != GgufType::BOOL) return false;
  *out = bits_ != 0;
  return true;
}

GgufValue GgufValue::element(uint64_t i) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(numbers_.data());
  auto load = [&](auto zero) {
    decltype(zero) x;
    std::memcpy(&x, bytes + i * sizeof(x), sizeof(x));
    return x;
  };
  switch (elem_type_) {
    case GgufType::U8: return make_u8(load(uint8_t{}));
    case GgufType::I8: return make_i8(load(int8_t{}));
    case GgufType::U16: return make_u16(load(uint16_t{}));
    case GgufType::I16: return make_i16(load(int16_t{}));
    case GgufType::U32: return make_u32(load(uint32_t{}));
    case GgufType::I32: return make_i32(load(int32_t{}));
    case GgufType::F32: return make_f32(load(float{}));
    case GgufType::BOOL: return make_bool(load(uint8_t{}) != 0);
    case GgufType::U64: return make_u64(load(uint64_t{}));
    case GgufType::I64: return make_i64(load(int64_t{}));
    case GgufType::F64: return make_f64(load(double{}));
    case GgufType::STRING: return make_string(strings_[i]);
    case GgufType::ARRAY: return items_[i];
  }
  return {};
}

namespace {
std::string quoted(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  if (s.size() > max_chars) out += "...";
  return out + "\"";
}
}  // namespace

std::string GgufValue::to_display_string(size_t max_items) const {
  char buf[64];
  switch (type_) {
    case GgufType::STRING: return quoted(str_, 200);
    case GgufType::BOOL: return bits_ ? "true" : "false";
    case GgufType::F32:
    case GgufType::F64: {
      double d = 0;
      to_f64(&d);
      std::snprintf(buf, sizeof buf, "%.9g", d);
      return buf;
    }
    case GgufType::ARRAY: {
      std::string out = "[";
      out.append(gguf_type_name(elem_type_)).append(" x ").append(std::to_string(count_)).append("] [");
      for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
        if (i) out += ", ";
        out += element(i).to_display_string(max_items);
      }
      if (count_ > max_items) out += ", ...";
      return out + "]";
    }
    default: {
      int64_t s = 0;
      if (to_i64(&s)) return std::to_string(s);
      return std::to_string(bits_);  // u64 above INT64_MAX
    }
  }
}

}  // namespace moxie
