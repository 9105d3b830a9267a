#pragma once
// Reads GGUF v2 and v3 files (v1 is rejected). The file is memory-mapped read-only;
// metadata strings and tensor data are views into that mapping, so everything handed
// out (GgufValue, string_view, TensorView) is valid only while the GgufFile lives.
// Every structural property is validated at open; any problem throws moxie::Error
// naming the file, the field and the byte offset. No input can make it read out of bounds.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moxie/core/tensor.h"
#include "moxie/gguf/value.h"

namespace moxie {

class MappedFile;

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxTensorName = 63;  // bytes; llama.cpp's GGML_MAX_NAME is 64 incl. NUL

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
  uint64_t key_offset;  // byte offset of the key's length field in the file
};

struct GgufTensorInfo {
  std::string_view name;
  DType type;
  int n_dims;                        // as stored, 0..4
  int64_t ne[kMaxDims];              // GGUF order (ne[0] innermost); unused dims are 1
  uint64_t offset;                   // from the start of the data section
  uint64_t n_bytes;                  // unpadded size of the data
  uint64_t info_offset;              // byte offset of this tensor's info in the file
  TensorView view;                   // zero-copy view of the data
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and parses a file. Throws moxie::Error for unreadable or malformed files.
  static GgufFile open(const std::string& path);
  // Parses a buffer the caller keeps alive for the lifetime of the result (no copy).
  // `name` stands in for the path in error messages.
  static GgufFile parse(const void* data, size_t size, std::string name = "<memory>");

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  uint64_t file_size() const { return size_; }

  // Metadata, in file order.
  std::span<const GgufKeyValue> metadata() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters. The plain form throws naming the key when it is missing, has the
  // wrong type, or does not fit; opt_* returns nullopt only when the key is missing.
  // Integer getters accept any GGUF integer type whose value fits the result type.
  uint32_t get_u32(std::string_view key) const;
  int32_t get_i32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;    // F32, or F64 narrowed
  double get_f64(std::string_view key) const;   // F32 or F64
  bool get_bool(std::string_view key) const;
  std::string_view get_string(std::string_view key) const;
  const GgufValue& get_array(std::string_view key) const;
  std::span<const std::string_view> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_i64_array(std::string_view key) const;  // any integer elements
  std::vector<float> get_f32_array(std::string_view key) const;    // F32 or F64 elements

  std::optional<uint32_t> opt_u32(std::string_view key) const;
  std::optional<int32_t> opt_i32(std::string_view key) const;
  std::optional<uint64_t> opt_u64(std::string_view key) const;
  std::optional<int64_t> opt_i64(std::string_view key) const;
  std::optional<float> opt_f32(std::string_view key) const;
  std::optional<bool> opt_bool(std::string_view key) const;
  std::optional<std::string_view> opt_string(std::string_view key) const;

  // Tensors, in file order.
  std::span<const GgufTensorInfo> tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Bytes of all tensors' data, as stored (unpadded).
  uint64_t tensor_data_bytes() const;

 private:
  friend class GgufParser;
  GgufFile() = default;
  const GgufValue& require(std::string_view key) const;
  [[noreturn]] void fail_type(std::string_view key, const GgufValue& v, std::string_view wanted) const;

  std::string path_;
  std::unique_ptr<MappedFile> mapping_;  // null when parsing a caller's buffer
  const unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace moxie
