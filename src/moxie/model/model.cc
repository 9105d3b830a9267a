#include "moxie/model/model.h"

#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/system_memory.h"
#include "moxie/gguf/reader.h"
#include "moxie/kernels/api.h"
#include "moxie/model/arch/arch_model.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/repacked_weights.h"
#include "moxie/model/weights.h"
#include "moxie/quant/quant.h"

namespace moxie {

namespace {

// Repacking moves weights from the page cache into anonymous memory: only when they fit.
bool repack_fits(const GgufFile& file) {
  constexpr double kMaxShareOfRam = 0.8;
  const uint64_t ram = physical_memory_bytes();
  return ram > 0 && double(file.tensor_data_bytes()) <= kMaxShareOfRam * double(ram);
}

}  // namespace

std::unique_ptr<Model> Model::open(const std::string& path, const ModelOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::make_unique<GgufFile>(GgufFile::open(path));
  m->config_ = read_model_config(*m->file_);
  const kernels::KernelTable& kt = kernels::active();
  if (options.repack && repack_fits(*m->file_)) m->repacked_ = std::make_unique<RepackedWeights>(kt);
  WeightLoader w(*m->file_, m->config_, kt, m->repacked_.get());
  m->token_embd_ = w.table("token_embd.weight");
  m->output_norm_ = w.vector("output_norm.weight");
  m->output_ = w.optional_matrix("output.weight");
  if (!m->output_.data) m->output_ = w.matrix("token_embd.weight");  // tied embeddings
  m->arch_ = build_arch_model(m->config_, w);
  w.check_all_used();
  return m;
}

Model::~Model() = default;

uint64_t Model::repacked_bytes() const { return repacked_ ? repacked_->bytes() : 0; }

std::vector<MemoryRange> Model::weight_memory() const {
  std::vector<MemoryRange> out;
  if (repacked_) out = repacked_->ranges();
  for (const GgufTensorInfo& t : file_->tensors()) {
    if (t.view.data && !(repacked_ && repacked_->replaced(t.view.data))) out.push_back({t.view.data, t.n_bytes});
  }
  return out;
}

KvShape Model::kv_shape(DType type) const {
  KvShape s = arch_->kv_shape();
  if (!config_.is_mla()) s.type = type;  // MLA's latent cache stays F32 (model.h)
  return s;
}

KvCache Model::make_kv_cache(int64_t n_seq, int64_t n_ctx, DType type) const {
  return KvCache(kv_shape(type), n_seq, n_ctx > 0 ? n_ctx : config_.n_ctx_train);
}

void Model::check_batch(const Batch& batch, const KvCache& kv) const {
  const KvShape want = kv_shape(kv.shape().type), have = kv.shape();
  if (want.n_layer != have.n_layer || want.k_width != have.k_width || want.v_width != have.v_width ||
      want.k_groups != have.k_groups || want.v_groups != have.v_groups ||
      want.type != have.type) {
    throw Error("forward: the KV cache was made for a different model shape");
  }
  std::vector<int64_t> next(size_t(kv.n_seq()), -1);  // next expected position per sequence
  for (int64_t i = 0; i < batch.size(); ++i) {
    const BatchToken& t = batch.tokens[size_t(i)];
    const std::string at = "forward: batch token " + std::to_string(i) + ": ";
    if (t.token < 0 || t.token >= config_.n_vocab) {
      throw Error(at + "token id " + std::to_string(t.token) + " is out of range [0, " +
                  std::to_string(config_.n_vocab) + ")");
    }
    if (t.seq < 0 || t.seq >= kv.n_seq()) {
      throw Error(at + "sequence " + std::to_string(t.seq) + " is out of range [0, " + std::to_string(kv.n_seq()) +
                  ") of the KV cache");
    }
    int64_t& expect = next[size_t(t.seq)];
    if (expect < 0) expect = kv.length(t.seq);
    if (t.pos != expect) {
      throw Error(at + "sequence " + std::to_string(t.seq) + " expects position " + std::to_string(expect) +
                  ", got " + std::to_string(t.pos) + " (positions must continue the cached tokens)");
    }
    if (t.pos >= kv.n_ctx()) {
      throw Error(at + "sequence " + std::to_string(t.seq) + " exceeds the context: position " +
                  std::to_string(t.pos) + " does not fit the KV cache's " + std::to_string(kv.n_ctx()) +
                  " tokens per sequence");
    }
    ++expect;
  }
}

void Model::embed(ForwardPass& p, float* h) const {
  const int64_t n_embd = config_.n_embd;
  for (int64_t t = 0; t < p.n_tok; ++t) {
    quant::dequantize_row(token_embd_.type, token_embd_.row(p.batch.tokens[size_t(t)].token), h + t * n_embd, n_embd);
  }
}

void Model::output_head(ForwardPass& p, const float* h, float* logits) const {
  const int64_t n_embd = config_.n_embd;
  float* rows = p.ws().get(Buf::logits_in, p.batch.n_logits() * n_embd);
  int64_t n_rows = 0;
  for (int64_t t = 0; t < p.n_tok; ++t) {
    if (!p.batch.tokens[size_t(t)].want_logits) continue;
    p.kt.rmsnorm(h + t * n_embd, output_norm_, rows + n_rows * n_embd, n_embd, config_.rms_eps);
    ++n_rows;
  }
  linear(p, output_, rows, n_rows, logits);
}

void Model::forward(const Batch& batch, KvCache& kv, ForwardContext& ctx, float* logits) const {
  check_batch(batch, kv);
  if (batch.size() == 0) return;
  ForwardPass p(config_, kernels::active(), batch, kv, ctx);
  std::vector<float> h(size_t(p.n_tok * config_.n_embd));  // the residual stream
  embed(p, h.data());
  for (int64_t il = 0; il < config_.n_layer; ++il) {
    arch_->layer(il, p, h.data());
    p.trace("l_out", il, h.data(), config_.n_embd);
  }
  output_head(p, h.data(), logits);
  for (const BatchToken& t : batch.tokens) kv.set_length(t.seq, t.pos + 1);
}

}  // namespace moxie
