#pragma once
// ScriptedSource: a Source for hermetic pipeline tests. It produces `count` small frames whose
// pixel (0,0) holds the frame index, then ends, or fails after `fail_after` frames if set.

#include <atomic>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "lookout/core/source.h"

namespace lookout::testing {

class ScriptedSource : public Source {
 public:
  explicit ScriptedSource(std::int64_t count, std::optional<std::int64_t> fail_after = std::nullopt)
      : count_(count), fail_after_(fail_after) {
    info_.uri = "scripted";
    info_.width = 8;
    info_.height = 4;
    info_.fps_num = 25;
    info_.frame_count = count;
  }

  const StreamInfo& info() const override { return info_; }

  Read read(Frame& frame, std::string& error) override {
    if (interrupted_.load()) return Read::kEnd;
    if (fail_after_ && produced_ == *fail_after_) {
      error = "scripted: broke after " + std::to_string(produced_) + " frames";
      return Read::kError;
    }
    if (produced_ == count_) return Read::kEnd;
    frame.image = cv::Mat(info_.height, info_.width, CV_32SC1, cv::Scalar(0));
    frame.image.at<std::int32_t>(0, 0) = static_cast<std::int32_t>(produced_);
    frame.pts_ns = produced_ * 40'000'000;
    frame.duration_ns = 40'000'000;
    ++produced_;
    return Read::kFrame;
  }

  void interrupt() override { interrupted_.store(true); }

 private:
  StreamInfo info_;
  std::int64_t count_;
  std::optional<std::int64_t> fail_after_;
  std::int64_t produced_ = 0;
  std::atomic<bool> interrupted_{false};
};

}  // namespace lookout::testing
