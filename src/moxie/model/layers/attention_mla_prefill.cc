// MLA's decompressed form (see attention_mla_parts.h): for a sequence with many new tokens,
// per head k_nope[s] = W_UK c_s and v[s] = W_UV c_s for every cached position s, then ordinary
// attention of each new token over (k_nope ; k_pe) and v. Per (head, token, position) that is
// 2 x (128 + 64 + 128) flops instead of the absorbed form's 2 x (576 + 512).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/attention_mla_parts.h"
#include "moxie/model/tensor_specs.h"
#include "moxie/model/weights.h"
#include "moxie/quant/quant.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {
namespace {

constexpr int64_t kActAlign = 64;  // converted latent rows start on a cache line
constexpr int64_t kPosTile = 64;   // cached positions per gemm call (as the matmul driver tiles tokens)

// The int8 gemms that make k_nope and v run about 4x more multiply-adds per second than the
// fp32 attention kernel (Q8_0_R16 ~230 G/s per core in matmul_bench, the MLA attention ~50 G/s
// per core in perf of a V3 pp512), so the cost rule counts a gemm multiply-add as a quarter.
constexpr double kGemmCost = 0.25;

int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// Unset or empty means auto; any other value than the three names is an error (a typo must
// not silently measure the wrong form).
MlaForm form_from_environment() {
  const char* v = std::getenv("MOXIE_MLA_FORM");
  const std::string_view s = v ? v : "";
  if (s.empty() || s == "auto") return MlaForm::automatic;
  if (s == "absorbed") return MlaForm::absorbed;
  if (s == "decompressed") return MlaForm::decompressed;
  throw Error("MOXIE_MLA_FORM=" + std::string(s) + ": use auto, absorbed or decompressed");
}

std::atomic<MlaForm>& form_setting() {
  static std::atomic<MlaForm> form{form_from_environment()};
  return form;
}

// The cached latents [0, n_pos) of every sequence converted once to an activation type:
// sequence i's rows start at rows + offset[i] * stride.
struct LatentActs {
  char* rows;
  int64_t stride;  // bytes
};

// Converts the cached latents of every sequence into the activation types of k_b_t and v_b
// (once when they share it), rows split across the pool.
void convert_latents(ForwardPass& p, int64_t il, const mla::Dims& d, const std::vector<mla::SeqTokens>& seqs,
                     const std::vector<int64_t>& offset, const kernels::WeightOps* ops[2], LatentActs out[2]) {
  const int64_t total = offset.back();
  const bool shared = ops[0]->act_type == ops[1]->act_type;
  int64_t bytes = 0;
  for (int i = 0; i < 2; ++i) {
    out[i].stride = round_up(row_bytes(ops[i]->act_type, d.kv_lora), kActAlign);
    if (i == 0 || !shared) bytes += out[i].stride * total;
  }
  float* buf = p.ws().get(Buf::mla_latent_act, (bytes + kActAlign) / int64_t(sizeof(float)) + 1);
  char* base = reinterpret_cast<char*>(round_up(int64_t(reinterpret_cast<uintptr_t>(buf)), kActAlign));
  out[0].rows = base;
  out[1].rows = shared ? base : base + out[0].stride * total;
  p.pool().run([&](int ith, int nth) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      int64_t s0, s1;
      ThreadPool::split(seqs[i].n_pos, ith, nth, &s0, &s1);
      const float* latents = p.kv.k(il, seqs[i].seq);
      for (int64_t s = s0; s < s1; ++s) {
        for (int j = 0; j < (shared ? 1 : 2); ++j) {
          ops[j]->to_act(latents + s * d.kv_lora, out[j].rows + (offset[i] + s) * out[j].stride, d.kv_lora);
        }
      }
    }
  });
}

// y [n_pos][y_stride], the first n_rows of each row = W_h c_s for every converted latent row
// s.
void decompress_head(const kernels::WeightOps& ops, const TensorView& w, int64_t h, const char* acts,
                     int64_t act_stride, int64_t n_pos, float* y, int64_t y_stride) {
  const int64_t n_rows = w.ne[1];
  for (int64_t s0 = 0; s0 < n_pos; s0 += kPosTile) {
    const int64_t n = std::min(kPosTile, n_pos - s0);
    ops.gemm(w.ne[0], w.row(0, h), w.nb[1], n_rows, acts + s0 * act_stride, act_stride, n, y + s0 * y_stride, y_stride);
  }
}

// One thread's buffers for one (sequence, head) item, n_pos positions (floats, each part
// 64-byte aligned): keys [n_pos][nope + rope], values transposed [v_head][pos_stride], the
// values as decompressed [n_pos][v_head] (then reused for a tile's scores
// [kQueryTile][pos_stride]), a tile's scaled queries [kQueryTile][nope + rope] and outputs
// [kQueryTile][v_head]. 1 MiB for 512 positions of V3: about one core's L2.
constexpr int64_t kQueryTile = 64;
struct HeadBuffers {
  int64_t pos_stride;
  float *keys, *values_t, *values, *scores, *queries, *out;
};

int64_t floats_aligned(int64_t n) { return round_up(n, kActAlign / int64_t(sizeof(float))); }

int64_t head_buffer_floats(const mla::Dims& d, int64_t n_pos) {
  const int64_t pos_stride = floats_aligned(n_pos);
  return floats_aligned(n_pos * d.dk()) + d.v_head * pos_stride +
         floats_aligned(std::max(n_pos * d.v_head, kQueryTile * pos_stride)) + kQueryTile * d.dk() +
         kQueryTile * d.v_head;
}

HeadBuffers head_buffers(const mla::Dims& d, int64_t n_pos, float* base) {
  HeadBuffers b;
  b.pos_stride = floats_aligned(n_pos);
  b.keys = base;
  b.values_t = b.keys + floats_aligned(n_pos * d.dk());
  b.values = b.values_t + d.v_head * b.pos_stride;
  b.scores = b.values;
  b.queries = b.values + floats_aligned(std::max(n_pos * d.v_head, kQueryTile * b.pos_stride));
  b.out = b.queries + kQueryTile * d.dk();
  return b;
}

// Keys [s] = (k_nope[s] ; k_pe[s]), so one float gemm scores a query row (q_nope ; q_pe);
// values transposed, so the output is a float gemm over positions.
void finish_keys_values(const mla::Dims& d, int64_t n_pos, const float* k_pe, const HeadBuffers& b) {
  for (int64_t s = 0; s < n_pos; ++s) {
    std::memcpy(b.keys + s * d.dk() + d.nope, k_pe + s * d.rope, size_t(d.rope) * sizeof(float));
  }
  for (int64_t s = 0; s < n_pos; ++s) {
    for (int64_t j = 0; j < d.v_head; ++j) b.values_t[j * b.pos_stride + s] = b.values[s * d.v_head + j];
  }
}

// Tokens [r0, r0 + m) of seq (increasing positions), head h: scores against positions [0, last
// pos] in one gemm (the scale folded into the queries), the causal tail of each row zeroed
// after its softmax, then the outputs in one gemm over the values, into heads[t].
void attend_tile(const ForwardPass& p, const mla::Dims& d, const mla::SeqTokens& seq, int64_t h, int64_t r0, int64_t m,
                 const float* q, float scale, const HeadBuffers& b, float* heads) {
  const kernels::WeightOps& f32 = p.kt.weights[uint32_t(DType::F32)];
  const int64_t n_pos = p.batch.tokens[size_t(seq.tokens[size_t(r0 + m - 1)])].pos + 1;
  for (int64_t r = 0; r < m; ++r) {
    const float* row = q + seq.tokens[size_t(r0 + r)] * d.q_row() + h * d.dk();
    for (int64_t i = 0; i < d.dk(); ++i) b.queries[r * d.dk() + i] = row[i] * scale;
  }
  const int64_t bytes = int64_t(sizeof(float));
  f32.gemm(d.dk(), b.keys, d.dk() * bytes, n_pos, b.queries, d.dk() * bytes, m, b.scores, b.pos_stride);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t valid = p.batch.tokens[size_t(seq.tokens[size_t(r0 + r)])].pos + 1;
    float* row = b.scores + r * b.pos_stride;
    p.kt.softmax(row, valid);
    std::fill(row + valid, row + n_pos, 0.0f);
  }
  f32.gemm(n_pos, b.values_t, b.pos_stride * bytes, d.v_head, b.scores, b.pos_stride * bytes, m, b.out, d.v_head);
  for (int64_t r = 0; r < m; ++r) {
    std::memcpy(heads + seq.tokens[size_t(r0 + r)] * d.heads_row() + h * d.v_head, b.out + r * d.v_head,
                size_t(d.v_head) * sizeof(float));
  }
}

}  // namespace

void set_mla_form(MlaForm form) { form_setting().store(form); }
MlaForm mla_form() { return form_setting().load(); }

namespace mla {

// Multiply-adds per head. The new tokens sit at positions [L - n, L), so the attention reads S
// = sum (pos + 1) = n L - n (n - 1) / 2 cached rows in all. Absorbed: per token the q
// absorption and output de-absorption (kv_lora x (nope + v_head)), per row 2 kv_lora + rope.
// Decompressed: the same products per cached position instead of per token, per row nope +
// rope + v_head. So decode (n = 1, long L) stays absorbed and a prefill from an empty or short
// cache decompresses.
bool choose_decompressed(const Dims& d, const SeqTokens& s) {
  const MlaForm form = mla_form();
  if (form != MlaForm::automatic) return form == MlaForm::decompressed;
  const double n = double(s.tokens.size()), L = double(s.n_pos);
  const double rows = n * L - n * (n - 1) / 2;
  const double products = kGemmCost * double(d.kv_lora * (d.nope + d.v_head));
  const double absorbed = n * products + rows * double(2 * d.kv_lora + d.rope);
  const double decompressed = L * products + rows * double(d.nope + d.rope + d.v_head);
  return decompressed < absorbed;
}

void load_transposed_k_b(WeightLoader& w, int64_t il, MlaWeights& m) {
  const TensorView src = w.table(layer_tensor_name(il, "attn_k_b"));  // {nope, kv_lora, H}
  const int64_t nope = src.ne[0], kv_lora = src.ne[1], n_head = src.ne[2];
  const bool is_float = src.type == DType::F32 || src.type == DType::F16 || src.type == DType::BF16;
  const DType to = is_float ? src.type : kv_lora % 32 == 0 ? DType::Q8_0 : DType::F32;
  const int64_t out_row = row_bytes(to, kv_lora);
  std::shared_ptr<uint8_t[]> memory(new uint8_t[size_t(out_row * nope * n_head)]);
  std::vector<float> file_rows(static_cast<size_t>(kv_lora * nope));
  std::vector<float> row(static_cast<size_t>(kv_lora));
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < kv_lora; ++i) {
      quant::dequantize_row(src.type, src.row(i, h), file_rows.data() + i * nope, nope);
    }
    for (int64_t j = 0; j < nope; ++j) {
      for (int64_t i = 0; i < kv_lora; ++i) row[size_t(i)] = file_rows[size_t(i * nope + j)];
      quant::quantize_row(to, row.data(), memory.get() + (h * nope + j) * out_row, kv_lora);
    }
  }
  const int64_t ne[3] = {kv_lora, nope, n_head};
  const TensorView view = make_contiguous_view(to, 3, ne, memory.get());
  m.k_b_t = w.derived_matrix(view);
  if (m.k_b_t.data == view.data) m.k_b_t_memory = memory;  // else the repacked copy replaces it
}

// Items are (sequence, head), pulled dynamically; a thread decompresses one head's keys and
// values for the sequence's positions into its own buffers (HeadBuffers: they stay in L2) and
// attends all the sequence's new tokens over them, kQueryTile tokens per pair of float gemms,
// before the next item. (The attention kernel, one token per call, spent most of its time in
// per-position horizontal sums: pp512 did not improve.)
void attend_decompressed(ForwardPass& p, int64_t il, const MlaWeights& w, const Dims& d, float scale, const float* q,
                         const std::vector<SeqTokens>& seqs, float* heads) {
  const kernels::WeightOps* ops[2] = {&p.kt.weights[uint32_t(w.k_b_t.type)], &p.kt.weights[uint32_t(w.v_b.type)]};
  std::vector<int64_t> offset{0};
  int64_t max_pos = 0;
  for (const SeqTokens& s : seqs) {
    offset.push_back(offset.back() + s.n_pos);
    max_pos = std::max(max_pos, s.n_pos);
  }
  LatentActs acts[2];
  convert_latents(p, il, d, seqs, offset, ops, acts);

  const int64_t per_thread = head_buffer_floats(d, max_pos);
  float* buf = p.ws().get(Buf::mla_head_kv, int64_t(p.pool().size()) * per_thread + kActAlign);
  float* base = reinterpret_cast<float*>(round_up(int64_t(reinterpret_cast<uintptr_t>(buf)), kActAlign));
  const int64_t n_items = int64_t(seqs.size()) * d.n_head;
  std::atomic<int64_t> next{0};
  p.pool().run([&](int ith, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      const SeqTokens& seq = seqs[size_t(i / d.n_head)];
      const int64_t h = i % d.n_head, n_pos = seq.n_pos, o = offset[size_t(i / d.n_head)];
      const HeadBuffers b = head_buffers(d, n_pos, base + ith * per_thread);
      decompress_head(*ops[0], w.k_b_t, h, acts[0].rows + o * acts[0].stride, acts[0].stride, n_pos, b.keys, d.dk());
      decompress_head(*ops[1], w.v_b, h, acts[1].rows + o * acts[1].stride, acts[1].stride, n_pos, b.values, d.v_head);
      finish_keys_values(d, n_pos, p.kv.v(il, seq.seq), b);
      const int64_t n = int64_t(seq.tokens.size());
      for (int64_t r0 = 0; r0 < n; r0 += kQueryTile) {
        attend_tile(p, d, seq, h, r0, std::min(kQueryTile, n - r0), q, scale, b, heads);
      }
    }
  });
}

}  // namespace mla
}  // namespace moxie
