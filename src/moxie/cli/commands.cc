#include "moxie/cli/commands.h"

#include <utility>

namespace moxie::cli {
namespace {
std::function<int()>& selected_action() {
  static std::function<int()> action;
  return action;
}
}  // namespace

const std::vector<RegisterFn>& all_commands() {
  static const std::vector<RegisterFn> commands = {
      register_inspect,
      register_tokenize,
      register_template,
      register_synth,
      register_keys,
      register_usage,
      register_logits,
      register_serve,
      register_run,
      register_chat,
      register_bench,
      register_perplexity,
      register_eval,
      register_convert,
      register_quantize,
  };
  return commands;
}

void set_action(std::function<int()> action) { selected_action() = std::move(action); }

int run_selected(CLI::App&) {
  auto& action = selected_action();
  return action ? action() : 0;
}

}  // namespace moxie::cli
