#pragma once
// Byte-pair encoding of one pre-tokenized word over byte-level tokens: start from one
// token per byte and repeatedly apply the lowest-ranked merge among adjacent pairs,
// leftmost first on ties; this is what Hugging Face's BPE model computes.
#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moxie::tokenizer {

// Merge table: (left id, right id) -> (rank, merged id), open addressing on 64-bit keys.
class MergeTable {
 public:
  void reserve(size_t n_merges);
  // Returns false if the pair is already present (the earlier, lower rank is kept).
  bool insert(int32_t left, int32_t right, uint32_t rank, int32_t merged);
  // Sets *rank and *merged and returns true when the pair has a merge.
  bool find(int32_t left, int32_t right, uint32_t* rank, int32_t* merged) const {
    const uint64_t key = pack(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.key == key) { *rank = e.rank; *merged = e.merged; return true; }
      if (e.key == kEmpty) return false;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Entry {
    uint64_t key;
    uint32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }
  size_t slot(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }

  std::vector<Entry> entries_ = std::vector<Entry>(1, Entry{kEmpty, 0, 0});
  size_t mask_ = 0;
  int shift_ = 63;
  size_t size_ = 0;
};

class BytePairEncoder {
 public:
  // byte_tokens[b]: the id of the one-byte token b (all 256 must exist). whole_words maps
  // token bytes to ids, used when ignore_merges: a word that is itself a token is emitted
  // as is (Llama 3, o200k) instead of being merged up from bytes.
  BytePairEncoder(const std::array<int32_t, 256>& byte_tokens, MergeTable merges,
                  std::unordered_map<std::string_view, int32_t> whole_words, bool ignore_merges);

  // Appends the ids of one word's bytes to *ids.
  void encode(std::string_view word, std::vector<int32_t>* ids) const;

  // The two merge strategies, exposed so tests can check that they agree.
  void encode_quadratic(std::string_view word, std::vector<int32_t>* ids) const;
  void encode_heap(std::string_view word, std::vector<int32_t>* ids) const;

 private:
  std::array<int32_t, 256> byte_tokens_;
  MergeTable merges_;
  std::unordered_map<std::string_view, int32_t> whole_words_;
  bool ignore_merges_;
};

}  // namespace moxie::tokenizer
