// GgufFile's lookups and typed metadata getters. Errors name the file, the key, the
// byte offset of the value and what was expected.
#include <limits>

#include "moxie/core/error.h"
#include "moxie/gguf/mapped_file.h"
#include "moxie/gguf/reader.h"

namespace moxie {

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

uint64_t GgufFile::tensor_data_bytes() const {
  uint64_t total = 0;
  for (const GgufTensorInfo& t : tensors_) total += t.n_bytes;
  return total;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue& GgufFile::require(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error(path_ + ": metadata key \"" + std::string(key) + "\" is missing");
  return *v;
}

void GgufFile::fail_type(std::string_view key, const GgufValue& v, std::string_view wanted) const {
  std::string found(gguf_type_name(v.type()));
  if (v.type() == GgufType::ARRAY) found += " of " + std::string(gguf_type_name(v.elem_type()));
  if (v.type() != GgufType::ARRAY && v.type() != GgufType::STRING) found += " " + v.to_display_string();
  throw Error(path_ + ": metadata key \"" + std::string(key) + "\" value at byte " + std::to_string(v.file_offset()) +
              ": expected " + std::string(wanted) + ", found " + found);
}

namespace {
// Converts any integer value to T when it fits; returns false otherwise.
template <class T>
bool integer_as(const GgufValue& v, T* out) {
  if constexpr (std::is_signed_v<T>) {
    int64_t x = 0;
    if (!v.to_i64(&x) || x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(x);
  } else {
    uint64_t x = 0;
    if (!v.to_u64(&x) || x > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(x);
  }
  return true;
}
}  // namespace

uint32_t GgufFile::get_u32(std::string_view key) const {
  const GgufValue& v = require(key);
  uint32_t out = 0;
  if (!integer_as(v, &out)) fail_type(key, v, "an integer in [0, 2^32)");
  return out;
}

int32_t GgufFile::get_i32(std::string_view key) const {
  const GgufValue& v = require(key);
  int32_t out = 0;
  if (!integer_as(v, &out)) fail_type(key, v, "an integer in [-2^31, 2^31)");
  return out;
}

uint64_t GgufFile::get_u64(std::string_view key) const {
  const GgufValue& v = require(key);
  uint64_t out = 0;
  if (!integer_as(v, &out)) fail_type(key, v, "a non-negative integer");
  return out;
}

int64_t GgufFile::get_i64(std::string_view key) const {
  const GgufValue& v = require(key);
  int64_t out = 0;
  if (!integer_as(v, &out)) fail_type(key, v, "an integer in [-2^63, 2^63)");
  return out;
}

double GgufFile::get_f64(std::string_view key) const {
  const GgufValue& v = require(key);
  double out = 0;
  if (!v.to_f64(&out)) fail_type(key, v, "f32 or f64");
  return out;
}

float GgufFile::get_f32(std::string_view key) const { return static_cast<float>(get_f64(key)); }

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& v = require(key);
  bool out = false;
  if (!v.to_bool(&out)) fail_type(key, v, "bool");
  return out;
}

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = require(key);
  if (v.type() != GgufType::STRING) fail_type(key, v, "string");
  return v.str();
}

const GgufValue& GgufFile::get_array(std::string_view key) const {
  const GgufValue& v = require(key);
  if (v.type() != GgufType::ARRAY) fail_type(key, v, "array");
  return v;
}

std::span<const std::string_view> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (v.elem_type() != GgufType::STRING) fail_type(key, v, "array of string");
  return v.strings();
}

std::vector<int64_t> GgufFile::get_i64_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (!gguf_type_is_integer(v.elem_type())) fail_type(key, v, "array of integers");
  std::vector<int64_t> out(v.size());
  for (uint64_t i = 0; i < v.size(); ++i)
    if (!v.element(i).to_i64(&out[i]))
      throw Error(path_ + ": metadata key \"" + std::string(key) + "\" value at byte " +
                  std::to_string(v.file_offset()) + ": element " + std::to_string(i) + " does not fit in i64");
  return out;
}

std::vector<float> GgufFile::get_f32_array(std::string_view key) const {
  const GgufValue& v = get_array(key);
  if (!gguf_type_is_float(v.elem_type())) fail_type(key, v, "array of f32 or f64");
  std::vector<float> out(v.size());
  for (uint64_t i = 0; i < v.size(); ++i) {
    double d = 0;
    v.element(i).to_f64(&d);
    out[i] = static_cast<float>(d);
  }
  return out;
}

#define MOXIE_GGUF_OPT(T, name)                                         \
  std::optional<T> GgufFile::opt_##name(std::string_view key) const { \
    if (!find(key)) return std::nullopt;                                \
    return get_##name(key);                                             \
  }
MOXIE_GGUF_OPT(uint32_t, u32)
MOXIE_GGUF_OPT(int32_t, i32)
MOXIE_GGUF_OPT(uint64_t, u64)
MOXIE_GGUF_OPT(int64_t, i64)
MOXIE_GGUF_OPT(float, f32)
MOXIE_GGUF_OPT(bool, bool)
MOXIE_GGUF_OPT(std::string_view, string)
#undef MOXIE_GGUF_OPT

}  // namespace moxie
