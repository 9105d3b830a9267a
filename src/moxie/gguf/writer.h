#pragma once
// Writes GGUF version 3 files laid out exactly as llama.cpp's gguf-py writer lays them
// out: header, metadata in insertion order, tensor infos in insertion order, zero
// padding to the alignment, then each tensor's data followed by zero padding to the
// alignment (also after the last one). Tensor offsets are the running sum of the padded
// sizes. The file is written as PATH.tmp.<pid> and renamed over PATH by finish(), so an
// error (or a writer destroyed before finish) never leaves a half-written PATH behind.
//
// Two ways to supply tensor data, which can be mixed:
//  - at declaration: a pointer (kept until finish) or a Producer called by finish();
//  - streamed: declare every tensor without a source, call write_header(), then pass the
//    bytes with write_tensor_data() in declaration order, in chunks of any size (a chunk
//    never spans two tensors). This writes a model of any size with bounded memory.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "moxie/core/tensor.h"
#include "moxie/gguf/value.h"

namespace moxie {

class GgufWriter {
 public:
  using Sink = std::function<void(const void* data, size_t n_bytes)>;
  using Producer = std::function<void(const Sink& sink)>;  // must emit exactly the tensor's bytes

  explicit GgufWriter(std::string path);
  ~GgufWriter();  // removes the temporary file unless finish() completed
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, written in the order added. Duplicate keys are an error. Adding
  // "general.alignment" (any integer type; a non-zero power of two) sets the alignment.
  void add(std::string_view key, const GgufValue& value);
  void set_alignment(uint32_t alignment) { add("general.alignment", GgufValue::make_u32(alignment)); }
  void add_u8(std::string_view k, uint8_t v) { add(k, GgufValue::make_u8(v)); }
  void add_i8(std::string_view k, int8_t v) { add(k, GgufValue::make_i8(v)); }
  void add_u16(std::string_view k, uint16_t v) { add(k, GgufValue::make_u16(v)); }
  void add_i16(std::string_view k, int16_t v) { add(k, GgufValue::make_i16(v)); }
  void add_u32(std::string_view k, uint32_t v) { add(k, GgufValue::make_u32(v)); }
  void add_i32(std::string_view k, int32_t v) { add(k, GgufValue::make_i32(v)); }
  void add_u64(std::string_view k, uint64_t v) { add(k, GgufValue::make_u64(v)); }
  void add_i64(std::string_view k, int64_t v) { add(k, GgufValue::make_i64(v)); }
  void add_f32(std::string_view k, float v) { add(k, GgufValue::make_f32(v)); }
  void add_f64(std::string_view k, double v) { add(k, GgufValue::make_f64(v)); }
  void add_bool(std::string_view k, bool v) { add(k, GgufValue::make_bool(v)); }
  void add_string(std::string_view k, std::string_view v) { add(k, GgufValue::make_string(v)); }
  template <class T>
  void add_array(std::string_view k, std::span<const T> v) { add(k, GgufValue::make_array<T>(v)); }
  void add_string_array(std::string_view k, std::span<const std::string> v) { add(k, GgufValue::make_string_array(v)); }
  void add_string_array(std::string_view k, std::span<const std::string_view> v) {
    add(k, GgufValue::make_string_array(v));
  }

  // Tensors, in file order. ne is in GGUF order (ne[0] innermost), 1 to 4 dimensions.
  void add_tensor(std::string_view name, DType type, std::span<const int64_t> ne, const void* data);
  void add_tensor(std::string_view name, DType type, std::span<const int64_t> ne, Producer producer = {});

  // Writes everything before the tensor data; afterwards nothing more can be added.
  void write_header();
  // Streams the next bytes of the next tensor that was declared without a source.
  void write_tensor_data(const void* data, size_t n_bytes);
  // Writes the remaining sourced tensors, checks every tensor is complete, renames.
  void finish();

  uint32_t alignment() const { return alignment_; }

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes = 0;
    uint64_t offset = 0;
    const void* data = nullptr;
    Producer producer;
    uint64_t written = 0;
  };
  [[noreturn]] void fail(const std::string& what) const;
  void write_bytes(const void* data, size_t n);
  void pad_to_alignment();
  void emit_to_current(const void* data, size_t n);
  void write_sourced_tensors();  // from current_ on, while the tensor has a source

  std::string path_;
  std::string tmp_path_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;  // bytes written so far
  uint32_t alignment_ = 32;  // GGUF default (kGgufDefaultAlignment)
  bool header_written_ = false;
  bool finished_ = false;
  uint64_t n_kv_ = 0;
  std::string kv_bytes_;  // serialized metadata, in insertion order
  std::unordered_set<std::string> keys_;
  std::vector<PendingTensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
  size_t current_ = 0;  // index of the tensor whose data comes next
};

}  // namespace moxie
