#pragma once
// A read-only memory mapping of a whole file. The descriptor is closed right after
// mapping; the mapping is released in the destructor.
#include <cstddef>
#include <string>

namespace moxie {

class MappedFile {
 public:
  // Throws moxie::Error naming the path when the file cannot be opened, is not a regular
  // file, or cannot be mapped. An empty file maps to size() == 0 and data() == nullptr.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace moxie
