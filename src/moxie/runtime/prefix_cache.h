#pragma once
// PrefixCache: saved KV rows of earlier token sequences (a shared system prompt, the
// earlier turns of a conversation), so a new request whose prompt starts the same way
// copies them into its slot instead of recomputing them.
//
// It knows nothing of models: an entry is a token sequence and an opaque blob that holds
// bytes_per_token bytes per token (the engine packs every layer's K and V rows into it). Memory is bounded by budget_bytes; inserting past it evicts the least recently used
// entries. Not thread-safe: the engine's loop thread owns it.
#include <cstdint>
#include <list>
#include <span>
#include <vector>

namespace moxie {

class PrefixCache {
 public:
  // bytes_per_token > 0; budget_bytes 0 disables the cache (nothing is kept).
  PrefixCache(int64_t bytes_per_token, int64_t budget_bytes);

  struct Entry {
    std::vector<int32_t> tokens;
    std::vector<uint8_t> kv;  // [tokens.size()][bytes_per_token], in the engine's packing
  };
  struct Match {
    const Entry* entry = nullptr;  // null: no entry shares a first token
    int64_t n_tokens = 0;          // length of the common prefix with entry->tokens
  };

  // The entry sharing the longest prefix with tokens; marks it most recently used.
  // The pointer stays valid until the next insert.
  Match find(std::span<const int32_t> tokens);

  // Keeps tokens with their kv ([tokens.size()][bytes_per_token]). Entries that are a prefix
  // of the new one are dropped (it holds them); if an existing entry already starts with
  // all of tokens, that one is only touched. Entries larger than the budget are not kept.
  void insert(std::vector<int32_t> tokens, std::vector<uint8_t> kv);

  int64_t bytes() const { return bytes_; }
  int64_t size() const { return int64_t(entries_.size()); }
  int64_t budget_bytes() const { return budget_bytes_; }
  int64_t bytes_per_token() const { return bytes_per_token_; }
  int64_t n_evicted() const { return n_evicted_; }

 private:
  int64_t entry_bytes(const Entry& e) const;
  void evict_until_fits(int64_t incoming_bytes);

  int64_t bytes_per_token_;
  int64_t budget_bytes_;
  int64_t bytes_ = 0;
  int64_t n_evicted_ = 0;
  std::list<Entry> entries_;  // most recently used first
};

// Length of the common prefix of a and b.
int64_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b);

}  // namespace moxie
