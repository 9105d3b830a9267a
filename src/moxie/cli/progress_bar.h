#pragma once
// A one-line progress bar on a terminal: "label [#######.......]  47%  detail", redrawn in
// place. When the stream is not a terminal (logs, pipes, tests) it prints nothing.
#include <cstdio>
#include <string>

namespace moxie::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, std::FILE* out = stderr);
  ~ProgressBar();  // ends the line if the bar was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // fraction in [0, 1] (clamped); detail is shown after the percentage.
  void update(double fraction, const std::string& detail = {});
  void finish();  // ends the line; later updates are ignored

 private:
  std::string label_;
  std::FILE* out_;
  bool enabled_;
  bool drawn_ = false;
  int last_permille_ = -1;
  std::string last_detail_;
};

}  // namespace moxie::cli
