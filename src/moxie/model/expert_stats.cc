#include "moxie/model/expert_stats.h"

namespace moxie {

uint64_t ExpertStats::layer_total(int64_t il) const {
  uint64_t total = 0;
  for (int64_t e = 0; e < n_expert_; ++e) total += hits(il, e);
  return total;
}

std::string ExpertStats::to_text() const {
  std::string out;
  for (int64_t il = 0; il < n_layer_; ++il) {
    const uint64_t total = layer_total(il);
    if (total == 0) continue;  // a dense layer, or no tokens yet
    out += "layer " + std::to_string(il) + ": " + std::to_string(total) + " token-slots:";
    for (int64_t e = 0; e < n_expert_; ++e) out += " " + std::to_string(hits(il, e));
    out += "\n";
  }
  return out;
}

}  // namespace moxie
