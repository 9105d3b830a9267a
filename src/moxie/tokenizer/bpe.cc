#include "moxie/tokenizer/bpe.h"

#include <queue>

namespace moxie::tokenizer {
namespace {

constexpr uint32_t kNoMerge = UINT32_MAX;
// Words up to this many bytes use the simple O(n^2) scan, which beats a heap there.
constexpr size_t kQuadraticMaxBytes = 128;

}  // namespace

void MergeTable::reserve(size_t n_merges) {
  size_t capacity = 16;
  while (capacity < n_merges * 2) capacity *= 2;
  entries_.assign(capacity, Entry{kEmpty, 0, 0});
  mask_ = capacity - 1;
  shift_ = 64 - __builtin_ctzll(capacity);
  size_ = 0;
}

bool MergeTable::insert(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
  if ((size_ + 1) * 2 > entries_.size()) {
    std::vector<Entry> old = std::move(entries_);
    reserve(old.size());  // doubles: capacity >= 2 * old.size()
    for (const Entry& e : old) {
      if (e.key != kEmpty) insert(int32_t(e.key >> 32), int32_t(e.key & 0xFFFFFFFF), e.rank, e.merged);
    }
  }
  const uint64_t key = pack(left, right);
  size_t i = slot(key);
  for (; entries_[i].key != kEmpty; i = (i + 1) & mask_) {
    if (entries_[i].key == key) return false;
  }
  entries_[i] = {key, rank, merged};
  ++size_;
  return true;
}

BytePairEncoder::BytePairEncoder(const std::array<int32_t, 256>& byte_tokens, MergeTable merges,
                                 std::unordered_map<std::string_view, int32_t> whole_words,
                                 bool ignore_merges)
    : byte_tokens_(byte_tokens),
      merges_(std::move(merges)),
      whole_words_(std::move(whole_words)),
      ignore_merges_(ignore_merges) {}

void BytePairEncoder::encode(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    ids->push_back(byte_tokens_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = whole_words_.find(word);
    if (it != whole_words_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (word.size() <= kQuadraticMaxBytes) encode_quadratic(word, ids);
  else encode_heap(word, ids);
}

// symbols[i] and rank[i] = rank of the pair (symbols[i], symbols[i + 1]); each step merges
// the leftmost lowest rank and refreshes the two pairs that changed.
void BytePairEncoder::encode_quadratic(std::string_view word, std::vector<int32_t>* ids) const {
  const size_t n0 = word.size();
  int32_t symbols[kQuadraticMaxBytes];
  int32_t merged_id[kQuadraticMaxBytes];
  uint32_t rank[kQuadraticMaxBytes];
  std::vector<int32_t> big_symbols;
  std::vector<int32_t> big_merged;
  std::vector<uint32_t> big_rank;
  int32_t* sym = symbols;
  int32_t* mid = merged_id;
  uint32_t* rk = rank;
  if (n0 > kQuadraticMaxBytes) {  // only when called directly by tests
    big_symbols.resize(n0), big_merged.resize(n0), big_rank.resize(n0);
    sym = big_symbols.data(), mid = big_merged.data(), rk = big_rank.data();
  }
  for (size_t i = 0; i < n0; ++i) sym[i] = byte_tokens_[static_cast<unsigned char>(word[i])];
  auto refresh = [&](size_t i) {
    if (!merges_.find(sym[i], sym[i + 1], &rk[i], &mid[i])) rk[i] = kNoMerge;
  };
  size_t n = n0;
  for (size_t i = 0; i + 1 < n; ++i) refresh(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rk[i] < rk[best]) best = i;
    }
    if (rk[best] == kNoMerge) break;
    sym[best] = mid[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      sym[i] = sym[i + 1];
      rk[i] = rk[i + 1];
      mid[i] = mid[i + 1];
    }
    --n;
    if (best + 1 < n) refresh(best);
    if (best > 0) refresh(best - 1);
  }
  ids->insert(ids->end(), sym, sym + n);
}

// Linked symbols and a min-heap of candidate merges ordered by (rank, position); stale
// candidates (a side already merged away) are skipped when popped.
void BytePairEncoder::encode_heap(std::string_view word, std::vector<int32_t>* ids) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // -1 at the ends
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t left, right, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const int32_t n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_tokens_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || symbols[pos].next < 0) return;
    const int32_t left = symbols[pos].id, right = symbols[symbols[pos].next].id;
    uint32_t rank;
    int32_t merged;
    if (merges_.find(left, right, &rank, &merged)) heap.push({rank, pos, left, right, merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& s = symbols[c.pos];
    if (!s.alive || s.next < 0 || s.id != c.left || symbols[s.next].id != c.right) continue;
    Symbol& right = symbols[s.next];
    right.alive = false;
    s.id = c.merged;
    s.next = right.next;
    if (s.next >= 0) symbols[s.next].prev = c.pos;
    push(s.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) ids->push_back(symbols[i].id);
}

}  // namespace moxie::tokenizer
