// moxie inspect FILE.gguf [--json] [--max-items N]: metadata, tensor table, summary.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/summary.h"

namespace moxie::cli {

namespace {
struct InspectOptions {
  std::string path;
  bool json = false;
  size_t max_items = 8;
};
}  // namespace

void register_inspect(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata, tensors and model summary");
  cmd->add_option("file", opts->path, "GGUF file")->required();
  cmd->add_flag("--json", opts->json, "Print one JSON object instead of text");
  cmd->add_option("--max-items", opts->max_items, "Array items shown per metadata array")->check(CLI::PositiveNumber);
  cmd->callback([opts] {
    set_action([opts] {
      const GgufFile file = GgufFile::open(opts->path);
      const std::string report =
          opts->json ? format_inspect_json(file, opts->max_items) : format_inspect_text(file, opts->max_items);
      std::fwrite(report.data(), 1, report.size(), stdout);
      if (opts->json) std::fputc('\n', stdout);
      return 0;
    });
  });
}

}  // namespace moxie::cli
