#pragma once
// The model `moxie serve`, `run`, `chat`, `bench` and `perplexity` use when no -m is given:
// the bundled demo model (models/README.md). One place, so it can be switched.
#include <string>

namespace moxie::server {

inline constexpr const char* kDefaultModelPath = "models/moxie-demo.gguf";

// kDefaultModelPath relative to the working directory when it exists there, else relative to
// the checkout the running binary was built in (build/moxie -> ../models/...), else as is (the
// caller's error then names it).
std::string default_model_path();

}  // namespace moxie::server
