#include "moxie/gguf/writer.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"  // kGgufMaxTensorName: the writer never writes what the reader rejects

namespace moxie {

namespace {
constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kGgufVersion = 3;
constexpr int kMaxNameBytes = kGgufMaxTensorName;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host: the file's byte order
  out.append(b, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

// Appends a value's encoding without its leading type id.
void put_value(std::string& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::STRING: put_string(out, v.str()); return;
    case GgufType::ARRAY: {
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type()));
      put<uint64_t>(out, v.size());
      for (uint64_t i = 0; i < v.size(); ++i) {
        if (v.elem_type() == GgufType::ARRAY) {
          const GgufValue& item = v.items()[i];
          if (item.type() != GgufType::ARRAY) throw Error("GGUF writer: an array of arrays holds a non-array item");
          put_value(out, item);
        } else {
          put_value(out, v.element(i));
        }
      }
      return;
    }
    default: {  // scalars: the low bytes of their 64-bit representation
      uint64_t bits = 0;
      int64_t s = 0;
      double d = 0;
      bool b = false;
      if (v.to_bool(&b)) bits = b;
      else if (v.type() == GgufType::F32 && v.to_f64(&d)) bits = std::bit_cast<uint32_t>(static_cast<float>(d));
      else if (v.type() == GgufType::F64 && v.to_f64(&d)) bits = std::bit_cast<uint64_t>(d);
      else if (v.to_i64(&s)) bits = static_cast<uint64_t>(s);
      else v.to_u64(&bits);
      char buf[8];
      std::memcpy(buf, &bits, 8);
      out.append(buf, gguf_type_size(v.type()));
    }
  }
}
}  // namespace

GgufWriter::GgufWriter(std::string path) : path_(std::move(path)) {
  tmp_path_ = path_ + ".tmp." + std::to_string(::getpid());
}

GgufWriter::~GgufWriter() {
  if (file_) std::fclose(file_);
  if (!finished_ && header_written_) std::remove(tmp_path_.c_str());
}

void GgufWriter::fail(const std::string& what) const { throw Error(path_ + ": GGUF writer: " + what); }

void GgufWriter::add(std::string_view key, const GgufValue& value) {
  if (header_written_) fail("metadata key \"" + std::string(key) + "\" added after write_header()");
  if (key.empty()) fail("empty metadata key");
  if (!keys_.insert(std::string(key)).second) fail("duplicate metadata key \"" + std::string(key) + "\"");
  if (key == "general.alignment") {
    uint64_t a = 0;
    if (!value.to_u64(&a) || a == 0 || a > 0x80000000ull || (a & (a - 1)) != 0)
      fail("general.alignment must be a non-zero power of two, got " + value.to_display_string());
    alignment_ = static_cast<uint32_t>(a);
  }
  put_string(kv_bytes_, key);
  put<uint32_t>(kv_bytes_, static_cast<uint32_t>(value.type()));
  put_value(kv_bytes_, value);
  ++n_kv_;
}

void GgufWriter::add_tensor(std::string_view name, DType type, std::span<const int64_t> ne, const void* data) {
  if (!data) fail("tensor \"" + std::string(name) + "\": null data pointer");
  add_tensor(name, type, ne, Producer{});
  tensors_.back().data = data;
}

void GgufWriter::add_tensor(std::string_view name, DType type, std::span<const int64_t> ne, Producer producer) {
  const std::string what = "tensor \"" + std::string(name) + "\": ";
  if (header_written_) fail(what + "added after write_header()");
  if (name.empty() || name.size() > size_t(kMaxNameBytes))
    fail(what + "name must be 1 to " + std::to_string(kMaxNameBytes) + " bytes");
  if (tensor_names_.count(std::string(name))) fail(what + "duplicate tensor name");
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(type));
  if (!info || !info->in_files) fail(what + "unknown type id " + std::to_string(static_cast<uint32_t>(type)));
  if (ne.empty() || ne.size() > size_t(kMaxDims)) fail(what + "needs 1 to 4 dimensions, got " + std::to_string(ne.size()));
  int64_t n_elements = 1;
  for (size_t j = 0; j < ne.size(); ++j) {
    if (ne[j] <= 0) fail(what + "ne[" + std::to_string(j) + "] = " + std::to_string(ne[j]) + " must be positive");
    if (__builtin_mul_overflow(n_elements, ne[j], &n_elements)) fail(what + "element count overflows");
  }
  if (ne[0] % info->block_size != 0)
    fail(what + "ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the block size " +
         std::to_string(info->block_size));
  int64_t n_bytes = 0;
  if (__builtin_mul_overflow(n_elements / info->block_size, info->block_bytes, &n_bytes))
    fail(what + "byte size overflows");
  PendingTensor t;
  t.name = std::string(name);
  t.type = type;
  t.ne.assign(ne.begin(), ne.end());
  t.n_bytes = static_cast<uint64_t>(n_bytes);
  t.producer = std::move(producer);
  tensor_names_.insert(t.name);
  tensors_.push_back(std::move(t));
}

void GgufWriter::write_bytes(const void* data, size_t n) {
  if (n != 0 && std::fwrite(data, 1, n, file_) != n) fail("write to " + tmp_path_ + " failed: " + std::strerror(errno));
  pos_ += n;
}

void GgufWriter::pad_to_alignment() {
  static const char zeros[64] = {};
  while (pos_ % alignment_ != 0) {
    const uint64_t gap = alignment_ - pos_ % alignment_;
    write_bytes(zeros, gap < sizeof zeros ? gap : sizeof zeros);
  }
}

void GgufWriter::write_header() {
  if (header_written_) fail("write_header() called twice");
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) fail("cannot create " + tmp_path_ + ": " + std::strerror(errno));
  header_written_ = true;  // from here on the destructor removes the temporary file
  std::string head;
  put<uint32_t>(head, kGgufMagic);
  put<uint32_t>(head, kGgufVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, n_kv_);
  head += kv_bytes_;
  kv_bytes_.clear();
  kv_bytes_.shrink_to_fit();
  uint64_t offset = 0;
  for (PendingTensor& t : tensors_) {
    t.offset = offset;
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(head, static_cast<uint64_t>(d));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, t.offset);
    offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  write_bytes(head.data(), head.size());
  pad_to_alignment();
}

void GgufWriter::emit_to_current(const void* data, size_t n) {
  PendingTensor& t = tensors_[current_];
  if (n > t.n_bytes - t.written)
    fail("tensor \"" + t.name + "\": " + std::to_string(t.written + n) + " bytes supplied but it holds only " +
         std::to_string(t.n_bytes));
  write_bytes(data, n);
  t.written += n;
  if (t.written == t.n_bytes) {
    pad_to_alignment();
    ++current_;
  }
}

void GgufWriter::write_sourced_tensors() {
  while (current_ < tensors_.size()) {
    PendingTensor& t = tensors_[current_];
    if (t.written != 0 || (!t.data && !t.producer)) return;
    const size_t index = current_;
    if (t.data) {
      emit_to_current(t.data, t.n_bytes);
    } else {
      Producer producer = std::move(t.producer);
      producer([this, index](const void* d, size_t n) {
        if (current_ != index) fail("tensor \"" + tensors_[index].name + "\": producer emitted too many bytes");
        emit_to_current(d, n);
      });
      if (current_ == index)
        fail("tensor \"" + t.name + "\": producer emitted " + std::to_string(t.written) + " of " +
             std::to_string(t.n_bytes) + " bytes");
    }
  }
}

void GgufWriter::write_tensor_data(const void* data, size_t n_bytes) {
  if (!header_written_) fail("write_tensor_data() before write_header()");
  if (finished_) fail("write_tensor_data() after finish()");
  write_sourced_tensors();
  if (current_ >= tensors_.size()) fail(std::to_string(n_bytes) + " bytes of tensor data supplied past the last tensor");
  emit_to_current(data, n_bytes);
}

void GgufWriter::finish() {
  if (finished_) fail("finish() called twice");
  if (!header_written_) write_header();
  write_sourced_tensors();
  if (current_ < tensors_.size()) {
    const PendingTensor& t = tensors_[current_];
    fail("tensor \"" + t.name + "\": only " + std::to_string(t.written) + " of " + std::to_string(t.n_bytes) +
         " bytes were written before finish()");
  }
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("flushing " + tmp_path_ + ": " + std::strerror(errno));
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("closing " + tmp_path_ + ": " + std::strerror(errno));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("renaming " + tmp_path_ + " to " + path_ + ": " + std::strerror(errno));
  finished_ = true;
}

}  // namespace moxie
