// The GGUF parser. Layout (docs/gguf.md of ggml):
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
//   metadata_kv[...] = { string key, u32 value_type, value },
//   tensor_info[...] = { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
//   zero padding to the alignment, then the tensor data section.
// A string is a u64 byte length followed by the bytes. Every read goes through need(),
// which checks the remaining size first, so no input can read out of bounds.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "moxie/core/error.h"
#include "moxie/gguf/mapped_file.h"
#include "moxie/gguf/reader.h"

namespace moxie {

namespace {
constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayNesting = 8;          // deeper nesting is rejected (bounds recursion)
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;       // empty key, type id, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset

uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }
}  // namespace

class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f) {}

  void run() {
    parse_header();
    parse_metadata();
    apply_alignment();
    parse_tensor_infos();
    check_tensor_layout();
  }

 private:
  [[noreturn]] void fail(std::string_view field, uint64_t offset, const std::string& problem) const {
    throw Error(f_.path_ + ": " + std::string(field) + " at byte " + std::to_string(offset) + ": " + problem);
  }

  uint64_t remaining() const { return f_.size_ - pos_; }

  // Ensures n more bytes exist at pos_, else fails naming the field.
  void need(uint64_t n, std::string_view field) const {
    if (n > remaining())
      fail(field, pos_, "needs " + std::to_string(n) + " bytes but only " + std::to_string(remaining()) +
                            " remain before the end of the file (" + std::to_string(f_.size_) + " bytes)");
  }

  template <class T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, f_.data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(std::string_view field) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(field);
    if (len > remaining())
      fail(field, at, "string length " + std::to_string(len) + " runs past the end of the file (" +
                          std::to_string(remaining()) + " bytes remain)");
    std::string_view s(reinterpret_cast<const char*>(f_.data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  void parse_header() {
    const uint32_t magic = read<uint32_t>("magic");
    if (magic != kGgufMagic) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "0x%08x", magic);
      fail("magic", 0, std::string("expected \"GGUF\" (0x46554747), found ") + buf + "; not a GGUF file");
    }
    f_.version_ = read<uint32_t>("version");
    if (f_.version_ == 1) fail("version", 4, "GGUF version 1 is not supported (only 2 and 3); re-convert the model");
    if (f_.version_ != 2 && f_.version_ != 3) {
      std::string hint = (f_.version_ & 0xffff) == 0 ? " (a big-endian file?)" : "";
      fail("version", 4, "unsupported GGUF version " + std::to_string(f_.version_) + hint + "; expected 2 or 3");
    }
    n_tensors_ = read<uint64_t>("tensor_count");
    n_kv_ = read<uint64_t>("metadata_kv_count");
    // Bound both counts by the bytes left, so an absurd count cannot make us allocate.
    if (n_tensors_ > remaining() / kMinTensorInfoBytes)
      fail("tensor_count", 8, "count " + std::to_string(n_tensors_) + " cannot fit in the " +
                                  std::to_string(remaining()) + " bytes that follow the header");
    if (n_kv_ > remaining() / kMinKvBytes ||
        n_kv_ * kMinKvBytes > remaining() - n_tensors_ * kMinTensorInfoBytes)
      fail("metadata_kv_count", 16, "count " + std::to_string(n_kv_) + " cannot fit in the " +
                                        std::to_string(remaining()) + " bytes that follow the header");
  }

  void parse_metadata() {
    f_.kvs_.reserve(n_kv_);
    for (uint64_t i = 0; i < n_kv_; ++i) {
      const uint64_t key_at = pos_;
      const std::string key_field = "metadata[" + std::to_string(i) + "].key";
      const std::string_view key = read_string(key_field);
      if (key.empty()) fail(key_field, key_at, "empty key");
      const std::string value_field = "metadata key \"" + std::string(key) + "\" value";
      if (f_.kv_index_.count(key))
        fail(key_field, key_at, "duplicate key \"" + std::string(key) + "\" (first at metadata[" +
                                    std::to_string(f_.kv_index_[key]) + "])");
      const uint64_t type_at = pos_;
      const uint32_t type_id = read<uint32_t>(value_field + " type");
      if (!gguf_type_known(type_id))
        fail(value_field + " type", type_at, "unknown value type " + std::to_string(type_id));
      GgufValue value = parse_value(static_cast<GgufType>(type_id), value_field, 0);
      f_.kv_index_.emplace(key, f_.kvs_.size());
      f_.kvs_.push_back({key, std::move(value), key_at});
    }
  }

  GgufValue parse_value(GgufType type, const std::string& field, int depth) {
    const uint64_t at = pos_;
    GgufValue v;
    if (type == GgufType::ARRAY) {
      v = parse_array(field, depth);
    } else if (type == GgufType::STRING) {
      v = GgufValue::make_string(read_string(field));
    } else {
      const int n = gguf_type_size(type);
      need(n, field);
      uint64_t raw = 0;
      std::memcpy(&raw, f_.data_ + pos_, n);  // little-endian: the low bytes of raw
      pos_ += n;
      v = scalar_from_raw(type, raw);
    }
    v.file_offset_ = at;
    return v;
  }

  static GgufValue scalar_from_raw(GgufType type, uint64_t raw) {
    switch (type) {
      case GgufType::I8: return GgufValue::make_i8(static_cast<int8_t>(raw));
      case GgufType::I16: return GgufValue::make_i16(static_cast<int16_t>(raw));
      case GgufType::I32: return GgufValue::make_i32(static_cast<int32_t>(raw));
      case GgufType::BOOL: return GgufValue::make_bool(raw != 0);
      default: return GgufValue::scalar(type, raw);  // unsigned integers, float bits
    }
  }

  GgufValue parse_array(const std::string& field, int depth) {
    const uint64_t at = pos_;
    if (depth >= kMaxArrayNesting) fail(field, at, "arrays nested deeper than " + std::to_string(kMaxArrayNesting));
    const uint32_t elem_id = read<uint32_t>(field + " element type");
    if (!gguf_type_known(elem_id)) fail(field + " element type", at, "unknown value type " + std::to_string(elem_id));
    const GgufType elem = static_cast<GgufType>(elem_id);
    const uint64_t count = read<uint64_t>(field + " count");
    // Smallest encoding of one element: its size, a string's length, an array's header.
    const uint64_t min_elem = elem == GgufType::STRING ? 8 : elem == GgufType::ARRAY ? 12 : gguf_type_size(elem);
    if (count > remaining() / min_elem)
      fail(field + " count", at + 4, "array of " + std::to_string(count) + " " + std::string(gguf_type_name(elem)) +
                                         " runs past the end of the file (" + std::to_string(remaining()) +
                                         " bytes remain)");
    GgufValue v;
    v.type_ = GgufType::ARRAY;
    v.elem_type_ = elem;
    v.count_ = count;
    if (elem == GgufType::STRING) {
      v.strings_.reserve(count);
      for (uint64_t i = 0; i < count; ++i) v.strings_.push_back(read_string(field));
    } else if (elem == GgufType::ARRAY) {
      v.items_.reserve(count);
      for (uint64_t i = 0; i < count; ++i)
        v.items_.push_back(parse_value(GgufType::ARRAY, field + "[" + std::to_string(i) + "]", depth + 1));
    } else {
      const uint64_t bytes = count * min_elem;
      v.numbers_.resize((bytes + 7) / 8);
      if (bytes) std::memcpy(v.numbers_.data(), f_.data_ + pos_, bytes);
      pos_ += bytes;
      if (elem == GgufType::BOOL) {  // normalise so a span<const bool> only ever holds 0 or 1
        auto* b = reinterpret_cast<unsigned char*>(v.numbers_.data());
        for (uint64_t i = 0; i < count; ++i) b[i] = b[i] != 0;
      }
    }
    return v;
  }

  void apply_alignment() {
    const GgufValue* a = f_.find("general.alignment");
    if (!a) return;
    uint64_t value = 0;
    const std::string field = "metadata key \"general.alignment\" value";
    if (!a->to_u64(&value))
      fail(field, a->file_offset(), "must be a non-negative integer, found " + std::string(gguf_type_name(a->type())));
    // llama.cpp (gguf.cpp) accepts any non-zero power of two that fits a u32.
    if (value == 0 || value > 0x80000000ull || (value & (value - 1)) != 0)
      fail(field, a->file_offset(), std::to_string(value) + " is not a non-zero power of two");
    f_.alignment_ = static_cast<uint32_t>(value);
  }

  void parse_tensor_infos();
  void parse_tensor_shape(GgufTensorInfo& t, const std::string& field);
  void check_tensor_layout();

  GgufFile& f_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  std::vector<uint64_t> offset_field_at_;  // byte offset of each tensor's offset field
};

void GgufParser::parse_tensor_shape(GgufTensorInfo& t, const std::string& field) {
  const uint64_t dims_at = pos_;
  const uint32_t n_dims = read<uint32_t>(field + ".n_dims");
  if (n_dims > uint32_t(kMaxDims))
    fail(field + ".n_dims", dims_at, std::to_string(n_dims) + " dimensions; at most 4 are allowed");
  t.n_dims = static_cast<int>(n_dims);
  int64_t n_elements = 1;
  for (int j = 0; j < kMaxDims; ++j) {
    t.ne[j] = 1;
    if (j >= t.n_dims) continue;
    const std::string dim_field = field + ".ne[" + std::to_string(j) + "]";
    const uint64_t at = pos_;
    const uint64_t d = read<uint64_t>(dim_field);
    if (d == 0 || d > uint64_t(INT64_MAX))
      fail(dim_field, at, "dimension " + std::to_string(d) + " must be between 1 and 2^63-1");
    t.ne[j] = static_cast<int64_t>(d);
    if (__builtin_mul_overflow(n_elements, t.ne[j], &n_elements))
      fail(dim_field, at, "the product of the dimensions overflows a 64-bit element count");
  }
}

void GgufParser::parse_tensor_infos() {
  f_.tensors_.reserve(n_tensors_);
  offset_field_at_.reserve(n_tensors_);
  for (uint64_t i = 0; i < n_tensors_; ++i) {
    GgufTensorInfo t{};
    t.info_offset = pos_;
    const std::string field = "tensor_info[" + std::to_string(i) + "]";
    t.name = read_string(field + ".name");
    if (t.name.size() > size_t(kGgufMaxTensorName))
      fail(field + ".name", t.info_offset, "name is " + std::to_string(t.name.size()) + " bytes; at most " +
                                               std::to_string(kGgufMaxTensorName) + " are allowed");
    if (auto it = f_.tensor_index_.find(t.name); it != f_.tensor_index_.end())
      fail(field + ".name", t.info_offset, "duplicate tensor name \"" + std::string(t.name) +
                                               "\" (first at tensor_info[" + std::to_string(it->second) + "])");
    const std::string named = field + " (\"" + std::string(t.name) + "\")";
    parse_tensor_shape(t, named);
    const uint64_t type_at = pos_;
    const uint32_t type_id = read<uint32_t>(named + ".type");
    const DTypeInfo* info = dtype_info(type_id);
    if (!info || !info->in_files) fail(named + ".type", type_at, "unknown ggml type id " + std::to_string(type_id));
    t.type = static_cast<DType>(type_id);
    if (t.ne[0] % info->block_size != 0)
      fail(named + ".ne[0]", type_at, "ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of " +
                                          std::string(info->name) + "'s block size " + std::to_string(info->block_size));
    // Bytes = blocks * block_bytes, where blocks = n_elements / block_size (exact, see above).
    int64_t n_bytes = 0;
    if (__builtin_mul_overflow(t.n_elements() / info->block_size, info->block_bytes, &n_bytes))
      fail(named + ".type", type_at, "the tensor's size in bytes overflows 64 bits");
    t.n_bytes = static_cast<uint64_t>(n_bytes);
    offset_field_at_.push_back(pos_);
    t.offset = read<uint64_t>(named + ".offset");
    if (t.offset % f_.alignment_ != 0)
      fail(named + ".offset", offset_field_at_.back(), "offset " + std::to_string(t.offset) +
                                                           " is not a multiple of the alignment " +
                                                           std::to_string(f_.alignment_));
    f_.tensor_index_.emplace(t.name, f_.tensors_.size());
    f_.tensors_.push_back(t);
  }
}

void GgufParser::check_tensor_layout() {
  f_.data_offset_ = align_up(pos_, f_.alignment_);
  if (f_.tensors_.empty()) return;
  if (f_.data_offset_ > f_.size_)
    fail("tensor data section", pos_, "starts at byte " + std::to_string(f_.data_offset_) + ", past the end of the file (" +
                                          std::to_string(f_.size_) + " bytes)");
  const uint64_t data_bytes = f_.size_ - f_.data_offset_;
  for (size_t i = 0; i < f_.tensors_.size(); ++i) {
    GgufTensorInfo& t = f_.tensors_[i];
    if (t.offset > data_bytes || t.n_bytes > data_bytes - t.offset)
      fail("tensor_info[" + std::to_string(i) + "] (\"" + std::string(t.name) + "\").offset", offset_field_at_[i],
           "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) + " bytes) runs past the end of the " +
               std::to_string(data_bytes) + "-byte data section");
    t.view = make_contiguous_view(t.type, t.n_dims, t.ne, f_.data_ + f_.data_offset_ + t.offset);
  }
  std::vector<size_t> order(f_.tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f_.tensors_[a].offset < f_.tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& prev = f_.tensors_[order[k - 1]];
    const GgufTensorInfo& cur = f_.tensors_[order[k]];
    if (prev.offset + prev.n_bytes > cur.offset)
      fail("tensor_info[" + std::to_string(order[k]) + "] (\"" + std::string(cur.name) + "\").offset",
           offset_field_at_[order[k]],
           "data at offset " + std::to_string(cur.offset) + " overlaps tensor_info[" + std::to_string(order[k - 1]) +
               "] (\"" + std::string(prev.name) + "\"), which spans [" + std::to_string(prev.offset) + ", " +
               std::to_string(prev.offset + prev.n_bytes) + ")");
  }
}

GgufFile GgufFile::open(const std::string& path) {
  GgufFile f;
  f.path_ = path;
  f.mapping_ = std::make_unique<MappedFile>(path);
  f.data_ = f.mapping_->data();
  f.size_ = f.mapping_->size();
  GgufParser(f).run();
  return f;
}

GgufFile GgufFile::parse(const void* data, size_t size, std::string name) {
  GgufFile f;
  f.path_ = std::move(name);
  f.data_ = static_cast<const unsigned char*>(data);
  f.size_ = data ? size : 0;
  GgufParser(f).run();
  return f;
}

}  // namespace moxie
