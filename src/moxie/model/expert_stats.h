#pragma once
// Per-layer expert-hit counters: how many tokens each routed expert processed. The input
// for load balancing and for deciding which experts to keep in fast memory (--expert-stats).
#include <cstdint>
#include <string>
#include <vector>

namespace moxie {

class ExpertStats {
 public:
  ExpertStats(int64_t n_layer, int64_t n_expert)
      : n_layer_(n_layer), n_expert_(n_expert), hits_(size_t(n_layer * n_expert), 0) {}

  int64_t n_layer() const { return n_layer_; }
  int64_t n_expert() const { return n_expert_; }
  void add(int64_t il, int64_t expert, int64_t n_tokens) { hits_[size_t(il * n_expert_ + expert)] += uint64_t(n_tokens); }
  uint64_t hits(int64_t il, int64_t expert) const { return hits_[size_t(il * n_expert_ + expert)]; }
  uint64_t layer_total(int64_t il) const;
  void clear() { hits_.assign(hits_.size(), 0); }
  // One line per MoE layer: total routed token-slots, then the hits of each expert.
  std::string to_text() const;

 private:
  int64_t n_layer_, n_expert_;
  std::vector<uint64_t> hits_;  // [n_layer][n_expert]
};

}  // namespace moxie
