#pragma once
// LocalBackend: a GGUF model run through the engine in this process.
//
// score_choices tokenizes as lm-eval-harness does: trailing spaces of the context move to
// the front of each choice, ctx = encode(context), whole_i = encode(context + choice_i), and
// choice i's tokens are whole_i[len(ctx):] (the context's own tokens are used for the
// context, so a merge across the boundary counts against the choice). The context runs
// once in sequence 0; its KV rows are copied to one sequence per choice, and all choices
// then run as one batch: logprob_i = sum_j log softmax(logits before token j)[token j].
#include <cstdint>
#include <memory>
#include <string>

#include "moxie/eval/backend.h"

namespace moxie {
class LoadedModel;
class ThreadPool;
class Generator;
}  // namespace moxie

namespace moxie::eval {

class LocalBackend : public Backend {
 public:
  // Throws moxie::Error naming the file when it does not load. n_ctx 0: the model's.
  LocalBackend(const std::string& gguf_path, int n_threads, int64_t n_ctx);
  ~LocalBackend() override;

  bool scores_text() const override { return true; }
  int concurrency() const override { return 1; }
  ChoiceScores score_choices(const Prompt& context, const std::vector<std::string>& choices) override;
  TextScore score_text(const std::string& text) override;
  Generation generate(const Prompt& prompt, int64_t max_tokens, const std::vector<std::string>& stop) override;

  // The ids score_choices runs: the context's and each choice's continuation.
  struct EncodedChoices {
    std::vector<int32_t> context;
    std::vector<std::vector<int32_t>> continuations;
  };
  EncodedChoices encode_choices(const Prompt& context, const std::vector<std::string>& choices) const;

 private:
  std::string prompt_text(const Prompt& p) const;
  std::vector<int32_t> encode(const Prompt& p, const std::string& text) const;

  std::string path_;
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Generator> generator_;
  int64_t n_ctx_;
};

}  // namespace moxie::eval
