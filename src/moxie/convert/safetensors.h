#pragma once
// Reads Hugging Face safetensors checkpoints: one model.safetensors, or the shards named by
// model.safetensors.index.json. A file is an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// raw tensor bytes (offsets count from the end of the header). Files are memory-mapped, so
// reading a tensor touches only its pages: memory stays small for any checkpoint size.
// Every structural problem throws moxie::Error naming the file, the tensor and the field.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moxie {
class MappedFile;
}

namespace moxie::convert {

enum class StDType { F32, F16, BF16, F8_E4M3, F64, I64, I32, I16, I8, U8, BOOL, other };
const char* st_dtype_name(StDType t);
int st_dtype_size(StDType t);  // bytes per element (0 for "other")

struct StTensor {
  std::string name;
  std::string file;             // the shard it lives in, for error messages
  StDType dtype = StDType::other;
  std::string dtype_text;       // as written in the header
  std::vector<int64_t> shape;   // row-major, outermost first (PyTorch order)
  const unsigned char* data = nullptr;
  uint64_t n_bytes = 0;
  int64_t n_elements() const;
};

// One .safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }

 private:
  void parse_header();
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::map<std::string, StTensor> tensors_;
};

// All tensors of a checkpoint folder.
class Checkpoint {
 public:
  // Opens DIR/model.safetensors.index.json and its shards, or DIR/model.safetensors.
  explicit Checkpoint(const std::string& dir);
  ~Checkpoint();

  const StTensor* find(const std::string& name) const;
  const StTensor& get(const std::string& name) const;  // throws naming the tensor
  const std::map<std::string, const StTensor*>& tensors() const { return index_; }
  size_t n_files() const { return files_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const StTensor*> index_;
};

}  // namespace moxie::convert
