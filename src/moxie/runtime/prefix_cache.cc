#include "moxie/runtime/prefix_cache.h"

#include <algorithm>
#include <string>

#include "moxie/core/error.h"

namespace moxie {

int64_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return int64_t(i);
}

PrefixCache::PrefixCache(int64_t bytes_per_token, int64_t budget_bytes)
    : bytes_per_token_(bytes_per_token), budget_bytes_(budget_bytes) {
  if (bytes_per_token < 1) throw Error("prefix cache: bytes_per_token must be positive");
  if (budget_bytes < 0) throw Error("prefix cache: the memory budget must not be negative");
}

int64_t PrefixCache::entry_bytes(const Entry& e) const {
  return int64_t(e.kv.size() + e.tokens.size() * sizeof(int32_t));
}

PrefixCache::Match PrefixCache::find(std::span<const int32_t> tokens) {
  auto best = entries_.end();
  int64_t best_n = 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const int64_t n = common_prefix_length(tokens, it->tokens);
    if (n > best_n) {
      best_n = n;
      best = it;
    }
  }
  if (best == entries_.end()) return {};
  entries_.splice(entries_.begin(), entries_, best);  // most recently used first
  return {&entries_.front(), best_n};
}

void PrefixCache::evict_until_fits(int64_t incoming_bytes) {
  while (!entries_.empty() && bytes_ + incoming_bytes > budget_bytes_) {
    bytes_ -= entry_bytes(entries_.back());
    entries_.pop_back();
    ++n_evicted_;
  }
}

void PrefixCache::insert(std::vector<int32_t> tokens, std::vector<uint8_t> kv) {
  if (int64_t(kv.size()) != int64_t(tokens.size()) * bytes_per_token_)
    throw Error("prefix cache: " + std::to_string(kv.size()) + " bytes for " + std::to_string(tokens.size()) +
                " tokens, expected " + std::to_string(bytes_per_token_) + " per token");
  if (tokens.empty()) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const int64_t n = common_prefix_length(tokens, it->tokens);
    if (n == int64_t(tokens.size())) {  // already held by a longer (or equal) entry
      entries_.splice(entries_.begin(), entries_, it);
      return;
    }
    if (n == int64_t(it->tokens.size())) {  // the new entry holds this one
      bytes_ -= entry_bytes(*it);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  Entry e{std::move(tokens), std::move(kv)};
  const int64_t need = entry_bytes(e);
  if (need > budget_bytes_) return;
  evict_until_fits(need);
  bytes_ += need;
  entries_.push_front(std::move(e));
}

}  // namespace moxie
