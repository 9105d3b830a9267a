#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"

namespace moxie::cli {

// Placeholder until the GGUF reader lands.
void register_inspect(CLI::App& app) { app.add_subcommand("inspect", "Print a GGUF file's metadata and tensors"); }

}  // namespace moxie::cli
