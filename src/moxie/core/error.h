#pragma once
// The one exception type moxie throws for bad input (files, arguments, requests).
// Messages name what was wrong: the file, the field, the byte offset, the key.
#include <stdexcept>
#include <string>

namespace moxie {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace moxie
