// moxie: one command, many subcommands. Each subcommand lives in its own file and
// registers itself here; errors from bad input print one clear line and exit 1.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"moxie: run and serve Mixture-of-Experts language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moxie 0.1.0");
  for (const auto& register_command : moxie::cli::all_commands()) register_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return moxie::cli::run_selected(app);
  } catch (const moxie::Error& e) {
    std::fprintf(stderr, "moxie: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moxie: internal error: %s\n", e.what());
    return 2;
  }
}
