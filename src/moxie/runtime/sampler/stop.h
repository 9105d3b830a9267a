#pragma once
// Stop strings matched across token boundaries. Text is pushed piece by piece as tokens
// are decoded; text that could still become the start of a stop string is held back, so a
// stream never shows any part of a stop string, and the text before a match is released.
#include <string>
#include <string_view>
#include <vector>

namespace moxie {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings are ignored

  struct Result {
    std::string emit;     // text safe to show now
    bool stopped = false; // a stop string matched; emit holds the text before it
  };
  Result push(std::string_view piece);
  // The held-back text at the end of generation (no stop string can complete any more).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace moxie
