#include "moxie/cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

namespace moxie::cli {
namespace {
constexpr int kBarWidth = 30;
}

ProgressBar::ProgressBar(std::string label, std::FILE* out)
    : label_(std::move(label)), out_(out), enabled_(isatty(fileno(out)) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(double fraction, const std::string& detail) {
  if (!enabled_) return;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int permille = int(fraction * 1000.0);
  if (permille == last_permille_ && detail == last_detail_) return;  // nothing new to draw
  last_permille_ = permille;
  last_detail_ = detail;
  const int filled = int(fraction * kBarWidth);
  std::string bar(size_t(filled), '#');
  bar.append(size_t(kBarWidth - filled), '.');
  // \r returns to the line start; \033[K clears what a longer previous line left behind.
  std::fprintf(out_, "\r%s [%s] %3d%%  %s\033[K", label_.c_str(), bar.c_str(), permille / 10, detail.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  drawn_ = false;
  enabled_ = false;
}

}  // namespace moxie::cli
