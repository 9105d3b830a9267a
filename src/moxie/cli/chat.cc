// moxie chat -m FILE.gguf [--system TEXT] [sampling options] [-t N] [-c N] [--no-warmup]
// Interactive multi-turn chat in the terminal with the model's chat template. Each turn
// re-renders the whole conversation; the generator reuses the cached prefix, so only the
// new message is prefilled. Ctrl-C stops the current answer (the program goes on); at the
// prompt, Ctrl-D or /exit quits.
//   /reset          forget the conversation (the system message stays)
//   /system TEXT    set the system message and start over
//   /stats          timings of the last answer and the context in use
//   /help, /exit
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/generation_options.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/runtime/generate.h"
#include "moxie/runtime/loaded_model.h"

namespace moxie::cli {
namespace {

using ojson = nlohmann::ordered_json;

std::atomic<bool> g_interrupted{false};  // set by SIGINT; lock-free, so safe in a handler
static_assert(std::atomic<bool>::is_always_lock_free);
int g_wake_fd = -1;  // write end of the self-pipe: SIGINT wakes a reader blocked at the prompt

extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = write(g_wake_fd, &byte, 1);  // non-blocking; a full pipe is fine
  errno = saved;
}

// Reads prompt lines from stdin and notices Ctrl-C while waiting for one. A signal that
// lands between printing the prompt and blocking in read() would be lost with a plain
// fgets; the self-pipe makes poll() see it whenever it came.
class LineReader {
 public:
  enum class Input { line, interrupted, end };

  LineReader() {
    if (pipe(fds_) != 0) throw Error("chat: cannot create the signal pipe");
    for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    g_wake_fd = fds_[1];
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);  // SIGINT stops an answer instead of the program
  }
  ~LineReader() {
    signal(SIGINT, SIG_DFL);
    close(fds_[0]);
    close(fds_[1]);
  }

  // Forgets interrupts that arrived before now (e.g. the one that stopped an answer).
  void drain_interrupts() {
    char buf[64];
    while (read(fds_[0], buf, sizeof buf) > 0) {
    }
    g_interrupted.store(false);
  }

  Input read_line(std::string* line);

 private:
  int fds_[2] = {-1, -1};
  std::string pending_;  // bytes read past the last line
  bool eof_ = false;
};

LineReader::Input LineReader::read_line(std::string* line) {
  for (;;) {
    if (const size_t nl = pending_.find('\n'); nl != std::string::npos) {
      *line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return Input::line;
    }
    if (eof_) {
      if (pending_.empty()) return Input::end;
      line->swap(pending_);
      pending_.clear();
      return Input::line;
    }
    pollfd polls[2] = {{STDIN_FILENO, POLLIN, 0}, {fds_[0], POLLIN, 0}};
    if (poll(polls, 2, -1) < 0 && errno != EINTR) throw Error("chat: waiting for input failed");
    if (polls[1].revents & POLLIN) {
      drain_interrupts();
      return Input::interrupted;
    }
    if (polls[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) pending_.append(buf, size_t(n));
      else if (n == 0 || errno != EINTR) eof_ = true;
    }
  }
}

struct ChatArgs {
  ModelArgs model;
  SamplingArgs sampling;
  std::string system;
};

class ChatSession {
 public:
  ChatSession(const ChatArgs& a, LoadedModel& m, ThreadPool& pool)
      : m_(m), gen_(m.model(), m.tokenizer(), pool, context_size(a.model, m), 512, a.model.kv_type()),
        options_(make_generate_options(a.sampling, m)), system_(a.system) {
    options_.cancel = &g_interrupted;
    reset();
  }

  // Returns false when the user asked to quit.
  bool handle(const std::string& line);

 private:
  void reset() {
    messages_ = ojson::array();
    if (!system_.empty()) messages_.push_back({{"role", "system"}, {"content", system_}});
  }
  void answer(const std::string& user_text);
  void print_stats() const;

  LoadedModel& m_;
  Generator gen_;
  GenerateOptions options_;
  std::string system_;
  ojson messages_;
  GenerateStats last_{};
  int n_turns_ = 0;
};

bool ChatSession::handle(const std::string& line) {
  if (line.empty()) return true;
  if (line == "/exit" || line == "/quit") return false;
  if (line == "/reset") {
    reset();
    std::printf("(conversation reset)\n");
  } else if (line == "/system" || line.rfind("/system ", 0) == 0) {
    system_ = line.size() > 8 ? line.substr(8) : std::string();
    reset();
    std::printf(system_.empty() ? "(system message cleared; conversation reset)\n"
                                : "(system message set; conversation reset)\n");
  } else if (line == "/stats") {
    print_stats();
  } else if (line == "/help") {
    std::printf("/reset  /system TEXT  /stats  /exit   (Ctrl-C stops an answer, Ctrl-D quits)\n");
  } else if (line[0] == '/') {
    std::printf("(unknown command %s; try /help)\n", line.c_str());
  } else {
    answer(line);
  }
  std::fflush(stdout);
  return true;
}

void ChatSession::answer(const std::string& user_text) {
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  GenerateResult r;
  try {
    const std::vector<int32_t> ids = m_.encode_chat(messages_, true);
    r = gen_.generate(ids, options_, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
  } catch (const Error& e) {  // e.g. the conversation outgrew the context: keep the program alive
    messages_.erase(messages_.size() - 1);
    std::printf("\n(error: %s)\n", e.what());
    return;
  }
  if (r.finish == FinishReason::cancelled) std::printf("\n(stopped)");
  if (r.finish == FinishReason::context_full) std::printf("\n(the context is full: /reset to start over)");
  std::printf("\n");
  messages_.push_back({{"role", "assistant"}, {"content", r.text}});
  last_ = r.stats;
  ++n_turns_;
}

void ChatSession::print_stats() const {
  std::printf("load %.1f ms | last answer: prompt %lld new tokens (%lld cached) at %.1f tokens/s, "
              "%lld tokens generated at %.1f tokens/s | context %lld of %lld tokens | %d turns\n",
              m_.load_ms(), (long long)last_.n_prefilled, (long long)last_.n_cached, last_.prefill_tokens_per_s(),
              (long long)last_.n_generated, last_.decode_tokens_per_s(), (long long)gen_.cached_tokens().size(),
              (long long)gen_.n_ctx(), n_turns_);
}

int run_chat(const ChatArgs& a) {
  LoadedModel m = load_model(a.model);
  ThreadPool pool(thread_count(a.model.threads));
  ChatSession session(a, m, pool);
  LineReader input;
  std::fprintf(stderr, "moxie chat: %s (%s chat template). /help for commands, Ctrl-C stops an answer, Ctrl-D quits.\n",
               a.model.path.c_str(), m.template_origin().c_str());
  std::string line;
  for (;;) {
    input.drain_interrupts();  // before the prompt shows: a Ctrl-C after it must count
    std::printf("> ");
    std::fflush(stdout);
    const LineReader::Input in = input.read_line(&line);
    if (in == LineReader::Input::end) break;
    if (in == LineReader::Input::interrupted) {
      std::printf("\n(type /exit or press Ctrl-D to quit)\n");
      continue;
    }
    if (!session.handle(line)) break;
  }
  std::printf("\n");
  return 0;
}

}  // namespace

void register_chat(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  auto args = std::make_shared<ChatArgs>();
  add_model_options(*cmd, args->model, true);
  cmd->add_option("--system", args->system, "system message");
  add_sampling_options(*cmd, args->sampling);
  cmd->callback([args] { set_action([args] { return run_chat(*args); }); });
}

}  // namespace moxie::cli
