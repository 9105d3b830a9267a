#pragma once
// The model `moxie serve` (and the README's first command) uses when no -m is given, relative
// to the working directory. One place, so it can be switched when the demo model ships.
namespace moxie::server {

inline constexpr const char* kDefaultModelPath = "models/moxie-demo.gguf";

}  // namespace moxie::server
