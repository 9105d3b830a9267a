#pragma once
// Batch: the tokens one forward pass runs, from one or more sequences.
//
// Each token carries its sequence id (a KV cache slot), its absolute position and whether
// its logits are wanted. The server runs many sequences' decode tokens as one batch and
// prefills in chunks, so a batch may mix both. Rules, checked per forward (moxie::Error
// naming the batch index otherwise):
//   - a sequence's tokens appear in increasing, consecutive positions, the first one at the
//     sequence's current cache length (no holes, no rewrites: rewind with KvCache::truncate);
//   - tokens of different sequences may interleave in any order;
//   - positions stay below the cache's per-sequence budget.
// Logits come back in batch order for the tokens that asked, [n_logits][n_vocab].
#include <cstdint>
#include <vector>

namespace moxie {

struct BatchToken {
  int32_t token = 0;
  int32_t seq = 0;
  int64_t pos = 0;
  bool want_logits = false;
};

struct Batch {
  std::vector<BatchToken> tokens;

  void add(int32_t token, int32_t seq, int64_t pos, bool want_logits) {
    tokens.push_back({token, seq, pos, want_logits});
  }
  // Appends a run of one sequence's tokens at positions first_pos, first_pos + 1, ...;
  // logits for all of them or only the last.
  void add_sequence(const std::vector<int32_t>& ids, int32_t seq, int64_t first_pos, bool all_logits);
  int64_t size() const { return int64_t(tokens.size()); }
  int64_t n_logits() const;
  void clear() { tokens.clear(); }
};

inline void Batch::add_sequence(const std::vector<int32_t>& ids, int32_t seq, int64_t first_pos, bool all_logits) {
  for (size_t i = 0; i < ids.size(); ++i) add(ids[i], seq, first_pos + int64_t(i), all_logits || i + 1 == ids.size());
}

inline int64_t Batch::n_logits() const {
  int64_t n = 0;
  for (const BatchToken& t : tokens) n += t.want_logits ? 1 : 0;
  return n;
}

}  // namespace moxie
