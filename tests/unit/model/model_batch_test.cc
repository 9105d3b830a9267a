// The forward pass's batch and cache semantics, on synthetic F32 models:
//   - incremental decoding with the KV cache equals recomputing the whole sequence;
//   - chunked prefill equals one batch;
//   - a batch of different sequences (interleaved, mixing prefill and decode) gives the same
//     logits as each sequence alone;
//   - reset/truncate reuse a sequence's slots;
//   - bad batches and a full context are clear errors that change nothing;
//   - the MoE layer never reads an unselected expert's weights (poisoned with NaN) and counts
//     exactly the routed token-slots.
// The oracle is moxie's own single-batch forward, which model_golden_test checks against numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "model_test_util.h"
#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/model/expert_stats.h"
#include "moxie/model/tensor_specs.h"

namespace moxie {
namespace {

struct ArchPreset {
  Arch arch;
  const char* preset;
};

const ArchPreset kModels[] = {{Arch::qwen3moe, "tiny"}, {Arch::qwen2moe, "tiny"}, {Arch::llama, "tiny-moe"},
                              {Arch::llama, "tiny"},    {Arch::qwen2, "tiny"},    {Arch::qwen3, "tiny"}};

// Logits rows [t0, t1) of a [n][n_vocab] array.
std::vector<float> rows(const std::vector<float>& all, int64_t n_vocab, int64_t t0, int64_t t1) {
  return {all.begin() + t0 * n_vocab, all.begin() + t1 * n_vocab};
}

// Same computation, possibly different kernel tiling: differences at float rounding level.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  const test::Diff d = test::diff(got, want);
  EXPECT_LE(d.max_abs, 1e-5 * d.max_ref) << what << ": max |diff| " << d.max_abs << " of max " << d.max_ref;
}

class ModelBatch : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    for (const ArchPreset& m : kModels) paths_.push_back(test::synth_model(*dir_, m.arch, m.preset, DType::F32, 5));
  }
  static void TearDownTestSuite() {
    delete dir_;
    paths_.clear();
  }
  static test::TempDir* dir_;
  static std::vector<std::string> paths_;
  ThreadPool pool_{2};
  ForwardContext ctx_{pool_};
};
test::TempDir* ModelBatch::dir_ = nullptr;
std::vector<std::string> ModelBatch::paths_;

TEST_F(ModelBatch, IncrementalDecodingEqualsRecomputing) {
  for (const std::string& path : paths_) {
    const auto m = Model::open(path);
    const int64_t n_vocab = m->config().n_vocab;
    const std::vector<int32_t> ids = test::prompt_tokens(12, n_vocab, 3);
    const std::vector<float> full = test::moxie_logits(*m, ids, ctx_);
    KvCache kv = m->make_kv_cache(1, 16);
    Batch b;
    b.add_sequence({ids.begin(), ids.begin() + 5}, 0, 0, true);
    std::vector<float> out(size_t(5 * n_vocab));
    m->forward(b, kv, ctx_, out.data());
    expect_close(out, rows(full, n_vocab, 0, 5), path + " prefill");
    for (int64_t t = 5; t < 12; ++t) {
      b.clear();
      b.add(ids[size_t(t)], 0, t, true);
      m->forward(b, kv, ctx_, out.data());
      expect_close({out.begin(), out.begin() + n_vocab}, rows(full, n_vocab, t, t + 1),
                   path + " decode position " + std::to_string(t));
    }
    EXPECT_EQ(kv.length(0), 12);
  }
}

TEST_F(ModelBatch, ChunkedPrefillEqualsOneBatch) {
  for (const std::string& path : paths_) {
    const auto m = Model::open(path);
    const int64_t n_vocab = m->config().n_vocab;
    const std::vector<int32_t> ids = test::prompt_tokens(12, n_vocab, 4);
    const std::vector<float> full = test::moxie_logits(*m, ids, ctx_);
    KvCache kv = m->make_kv_cache(1, 12);
    std::vector<float> last(static_cast<size_t>(n_vocab));
    for (int64_t begin : {0, 3, 7}) {
      const int64_t end = begin == 7 ? 12 : (begin == 0 ? 3 : 7);
      Batch b;
      b.add_sequence({ids.begin() + begin, ids.begin() + end}, 0, begin, false);  // logits of the last only
      ASSERT_EQ(b.n_logits(), 1);
      m->forward(b, kv, ctx_, last.data());
      expect_close(last, rows(full, n_vocab, end - 1, end), path + " chunk ending at " + std::to_string(end));
    }
  }
}

TEST_F(ModelBatch, SequencesInOneBatchEqualEachAlone) {
  for (const std::string& path : paths_) {
    const auto m = Model::open(path);
    const int64_t n_vocab = m->config().n_vocab;
    const std::vector<std::vector<int32_t>> seqs = {test::prompt_tokens(9, n_vocab, 7),
                                                    test::prompt_tokens(13, n_vocab, 8),
                                                    test::prompt_tokens(4, n_vocab, 9)};
    std::vector<std::vector<float>> alone;
    for (const auto& s : seqs) alone.push_back(test::moxie_logits(*m, s, ctx_));

    // Batch 1: the first 6 / 10 / 1 tokens of each, interleaved round-robin.
    // Batch 2: the rest, one decode token for seq 0 and 2 at a time mixed with seq 1's prefill.
    KvCache kv = m->make_kv_cache(3, 16);
    const int64_t split[3] = {6, 10, 1};
    Batch b;
    for (int64_t t = 0; t < 10; ++t) {
      for (int32_t s = 0; s < 3; ++s) {
        if (t < split[s]) b.add(seqs[size_t(s)][size_t(t)], s, t, true);
      }
    }
    std::vector<float> out(size_t(b.n_logits() * n_vocab));
    m->forward(b, kv, ctx_, out.data());
    int64_t row = 0;
    for (const BatchToken& bt : b.tokens) {
      expect_close(rows(out, n_vocab, row, row + 1), rows(alone[size_t(bt.seq)], n_vocab, bt.pos, bt.pos + 1),
                   path + " batch 1, seq " + std::to_string(bt.seq) + " pos " + std::to_string(bt.pos));
      ++row;
    }
    b.clear();
    for (int32_t s : {1, 0, 2}) {
      for (int64_t t = split[s]; t < int64_t(seqs[size_t(s)].size()); ++t) b.add(seqs[size_t(s)][size_t(t)], s, t, true);
    }
    out.resize(size_t(b.n_logits() * n_vocab));
    m->forward(b, kv, ctx_, out.data());
    row = 0;
    for (const BatchToken& bt : b.tokens) {
      expect_close(rows(out, n_vocab, row, row + 1), rows(alone[size_t(bt.seq)], n_vocab, bt.pos, bt.pos + 1),
                   path + " batch 2, seq " + std::to_string(bt.seq) + " pos " + std::to_string(bt.pos));
      ++row;
    }
  }
}

TEST_F(ModelBatch, ResetAndTruncateReuseTheSlots) {
  const auto m = Model::open(paths_[0]);
  const int64_t n_vocab = m->config().n_vocab;
  const std::vector<int32_t> a = test::prompt_tokens(8, n_vocab, 11), other = test::prompt_tokens(8, n_vocab, 12);
  const std::vector<float> full_a = test::moxie_logits(*m, a, ctx_);
  KvCache kv = m->make_kv_cache(1, 8);
  std::vector<float> out(size_t(8 * n_vocab));
  Batch b;
  b.add_sequence(other, 0, 0, true);
  m->forward(b, kv, ctx_, out.data());
  kv.reset(0);  // seq 0 now starts over with a
  b.clear();
  b.add_sequence(a, 0, 0, true);
  m->forward(b, kv, ctx_, out.data());
  expect_close(out, full_a, "after reset");
  kv.truncate(0, 3);  // rewind: positions 3.. again
  b.clear();
  b.add_sequence({a.begin() + 3, a.end()}, 0, 3, true);
  m->forward(b, kv, ctx_, out.data());
  expect_close(rows(out, n_vocab, 0, 5), rows(full_a, n_vocab, 3, 8), "after truncate");
  EXPECT_THROW(kv.truncate(0, 9), Error);
}

// Runs b, expects an Error whose message contains `needle`, and that the cache is unchanged.
void expect_batch_error(const Model& m, KvCache& kv, ForwardContext& ctx, const Batch& b, const std::string& needle) {
  std::vector<int64_t> before;
  for (int64_t s = 0; s < kv.n_seq(); ++s) before.push_back(kv.length(s));
  std::vector<float> out(size_t(std::max<int64_t>(b.n_logits(), 1) * m.config().n_vocab));
  try {
    m.forward(b, kv, ctx, out.data());
    ADD_FAILURE() << "no error, wanted one containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  for (int64_t s = 0; s < kv.n_seq(); ++s) EXPECT_EQ(kv.length(s), before[size_t(s)]);
}

TEST_F(ModelBatch, BadBatchesAndAFullContextAreClearErrors) {
  const auto m = Model::open(paths_[0]);
  const int64_t n_vocab = m->config().n_vocab;
  KvCache kv = m->make_kv_cache(2, 8);
  const std::vector<int32_t> ids = test::prompt_tokens(9, n_vocab, 13);
  Batch b;
  b.add_sequence(ids, 0, 0, false);  // 9 tokens into 8 slots
  expect_batch_error(*m, kv, ctx_, b, "exceeds the context");
  b.clear();
  b.add_sequence({ids.begin(), ids.begin() + 8}, 0, 0, false);
  std::vector<float> out(static_cast<size_t>(n_vocab));
  m->forward(b, kv, ctx_, out.data());  // exactly full: fine
  b.clear();
  b.add(ids[8], 0, 8, true);
  expect_batch_error(*m, kv, ctx_, b, "exceeds the context");
  b.clear();
  b.add(1, 1, 1, true);  // sequence 1 is empty: position 0 comes first
  expect_batch_error(*m, kv, ctx_, b, "expects position 0, got 1");
  b.clear();
  b.add(1, 1, 0, true);
  b.add(2, 1, 0, true);  // the same position twice
  expect_batch_error(*m, kv, ctx_, b, "expects position 1, got 0");
  b.clear();
  b.add(int32_t(n_vocab), 1, 0, true);
  expect_batch_error(*m, kv, ctx_, b, "token id " + std::to_string(n_vocab) + " is out of range");
  b.clear();
  b.add(1, 2, 0, true);
  expect_batch_error(*m, kv, ctx_, b, "sequence 2 is out of range");
  KvCache other_shape(KvShape{1, 4, 4}, 1, 8);
  b.clear();
  b.add(1, 0, 0, true);
  expect_batch_error(*m, other_shape, ctx_, b, "different model shape");
}

// Overwrites expert e's slice of a stacked F32 expert tensor with NaN, in place.
void poison_expert(const std::string& path, const std::string& tensor, int64_t e) {
  uint64_t offset = 0, n_bytes = 0;
  {
    const GgufFile f = GgufFile::open(path);
    const GgufTensorInfo* t = f.find_tensor(tensor);
    ASSERT_NE(t, nullptr) << tensor;
    ASSERT_EQ(t->type, DType::F32);
    offset = f.data_offset() + t->offset + uint64_t(e * t->view.nb[2]);
    n_bytes = uint64_t(t->view.nb[2]);
  }
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  io.seekp(std::streamoff(offset));
  const std::vector<float> nan(n_bytes / sizeof(float), std::nanf(""));
  io.write(reinterpret_cast<const char*>(nan.data()), std::streamsize(n_bytes));
  ASSERT_TRUE(io.good());
}

TEST_F(ModelBatch, UnselectedExpertsAreNeverReadAndHitsAreCounted) {
  const std::string path = test::synth_model(*dir_, Arch::qwen3moe, "tiny", DType::F32, 77);
  std::vector<int32_t> ids;
  std::vector<float> clean;
  ExpertStats stats(0, 0);
  {
    const auto m = Model::open(path);
    const ModelConfig& c = m->config();
    ids = test::prompt_tokens(2, c.n_vocab, 21);
    stats = ExpertStats(c.n_layer, c.moe.n_expert);
    ctx_.expert_stats = &stats;
    clean = test::moxie_logits(*m, ids, ctx_);
    ctx_.expert_stats = nullptr;
    for (int64_t il = 0; il < c.n_layer; ++il) EXPECT_EQ(stats.layer_total(il), uint64_t(2 * c.moe.n_expert_used));
  }
  int64_t n_poisoned = 0;
  for (int64_t il = 0; il < stats.n_layer(); ++il) {
    for (int64_t e = 0; e < stats.n_expert(); ++e) {
      if (stats.hits(il, e) > 0) continue;
      for (const char* base : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}) {
        poison_expert(path, layer_tensor_name(il, base), e);
      }
      ++n_poisoned;
    }
  }
  ASSERT_GE(n_poisoned, 2 * (8 - 4));  // 2 tokens x top-2 of 8 experts leave >= 4 idle per layer
  const auto m = Model::open(path);
  const std::vector<float> poisoned = test::moxie_logits(*m, ids, ctx_);
  EXPECT_EQ(poisoned, clean);  // bit for bit: the NaN experts never entered the sum
}

}  // namespace
}  // namespace moxie
