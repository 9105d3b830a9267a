#include "moxie/server/default_model.h"

#include <filesystem>
#include <system_error>

namespace moxie::server {

std::string default_model_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(kDefaultModelPath, ec)) return kDefaultModelPath;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      const fs::path candidate = dir / kDefaultModelPath;
      if (fs::exists(candidate, ec)) return candidate.string();
    }
  }
  return kDefaultModelPath;
}

}  // namespace moxie::server
