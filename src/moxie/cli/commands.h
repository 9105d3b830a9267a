#pragma once
// Each subcommand file defines one register_X function: it adds its CLI11 subcommand
// and sets the callback run_selected() calls after parsing.
#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace moxie::cli {

using RegisterFn = void (*)(CLI::App& app);
const std::vector<RegisterFn>& all_commands();

// Records the action of the subcommand that was parsed; called by a subcommand's callback.
void set_action(std::function<int()> action);
int run_selected(CLI::App& app);

void register_inspect(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_template(CLI::App& app);
void register_synth(CLI::App& app);
void register_keys(CLI::App& app);
void register_usage(CLI::App& app);
void register_logits(CLI::App& app);
void register_serve(CLI::App& app);
void register_run(CLI::App& app);
void register_chat(CLI::App& app);
void register_bench(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_eval(CLI::App& app);
void register_convert(CLI::App& app);
void register_quantize(CLI::App& app);

}  // namespace moxie::cli
