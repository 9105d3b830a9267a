#include "moxie/convert/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/gguf/mapped_file.h"

namespace moxie::convert {
namespace {

using nlohmann::json;

struct DTypeName {
  StDType type;
  const char* name;
  int size;
};
constexpr DTypeName kDTypes[] = {
    {StDType::F32, "F32", 4},   {StDType::F16, "F16", 2},   {StDType::BF16, "BF16", 2},
    {StDType::F8_E4M3, "F8_E4M3", 1}, {StDType::F64, "F64", 8}, {StDType::I64, "I64", 8},
    {StDType::I32, "I32", 4},   {StDType::I16, "I16", 2},   {StDType::I8, "I8", 1},
    {StDType::U8, "U8", 1},     {StDType::BOOL, "BOOL", 1},
};

StDType parse_dtype(const std::string& s) {
  for (const DTypeName& d : kDTypes) {
    if (s == d.name) return d.type;
  }
  return StDType::other;
}

// A safetensors header is at most 100 MB by the format's own rule.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const char* st_dtype_name(StDType t) {
  for (const DTypeName& d : kDTypes) {
    if (t == d.type) return d.name;
  }
  return "?";
}

int st_dtype_size(StDType t) {
  for (const DTypeName& d : kDTypes) {
    if (t == d.type) return d.size;
  }
  return 0;
}

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
  parse_header();
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::parse_header() {
  const uint64_t size = map_->size();
  if (size < 8) throw Error(path_ + ": truncated safetensors file: " + std::to_string(size) + " bytes, no header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, map_->data(), 8);  // little-endian hosts only (x86-64)
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    throw Error(path_ + ": truncated safetensors header: byte 0 says the header has " + std::to_string(header_len) +
                " bytes, the file has " + std::to_string(size - 8) + " after the length");
  }
  json header;
  try {
    header = json::parse(map_->data() + 8, map_->data() + 8 + header_len);
  } catch (const json::parse_error& e) {
    throw Error(path_ + ": safetensors header is not valid JSON at byte " + std::to_string(8 + e.byte));
  }
  if (!header.is_object()) throw Error(path_ + ": safetensors header is not a JSON object");
  const uint64_t data_begin = 8 + header_len, data_size = size - data_begin;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path_ + ": tensor \"" + name + "\": ";
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
        !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
        info["data_offsets"].size() != 2) {
      throw Error(where + "needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" ([begin, end])");
    }
    StTensor t;
    t.name = name;
    t.file = path_;
    t.dtype_text = info["dtype"].get<std::string>();
    t.dtype = parse_dtype(t.dtype_text);
    for (const json& d : info["shape"]) {
      if (!d.is_number_unsigned()) throw Error(where + "shape has a non-integer or negative dimension");
      t.shape.push_back(d.get<int64_t>());
    }
    const json& off = info["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) throw Error(where + "data_offsets must be integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw Error(where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] lie outside the file's " + std::to_string(data_size) + " data bytes (truncated file?)");
    }
    t.n_bytes = end - begin;
    t.data = map_->data() + data_begin + begin;
    if (t.dtype != StDType::other && uint64_t(t.n_elements()) * st_dtype_size(t.dtype) != t.n_bytes) {
      throw Error(where + "dtype mismatch: " + t.dtype_text + " of " + std::to_string(t.n_elements()) +
                  " elements needs " + std::to_string(t.n_elements() * st_dtype_size(t.dtype)) +
                  " bytes, data_offsets span " + std::to_string(t.n_bytes));
    }
    tensors_.emplace(name, std::move(t));
  }
}

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string single_path = dir + "/model.safetensors";
  if (fs::exists(index_path)) {
    json index;
    try {
      index = json::parse(read_text(index_path));
    } catch (const json::parse_error& e) {
      throw Error(index_path + ": not valid JSON at byte " + std::to_string(e.byte));
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw Error(index_path + ": missing \"weight_map\" object");
    }
    std::map<std::string, SafetensorsFile*> by_file;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw Error(index_path + ": weight_map[\"" + name + "\"] is not a file name");
      const std::string shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos) throw Error(index_path + ": weight_map[\"" + name + "\"] names a path, not a file");
      SafetensorsFile*& f = by_file[shard];
      if (!f) {
        files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + shard));
        f = files_.back().get();
      }
      const auto it = f->tensors().find(name);
      if (it == f->tensors().end()) throw Error(index_path + ": tensor \"" + name + "\" is not in " + f->path());
      index_[name] = &it->second;
    }
  } else if (fs::exists(single_path)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single_path));
    for (const auto& [name, t] : files_.back()->tensors()) index_[name] = &t;
  } else {
    throw Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
}

Checkpoint::~Checkpoint() = default;

const StTensor* Checkpoint::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::get(const std::string& name) const {
  const StTensor* t = find(name);
  if (!t) throw Error(dir_ + ": the checkpoint has no tensor \"" + name + "\"");
  return *t;
}

}  // namespace moxie::convert
