#include "lookout/output/frame_snapshot.h"

#include <utility>

namespace lookout {

void LatestFrame::put(cv::Mat image, std::int64_t seq, std::int64_t pts_ns) {
  Picture picture{std::move(image), seq, pts_ns};
  std::lock_guard lock(mutex_);
  latest_ = std::move(picture);  // the previous picture is released here, or by its last reader
}

std::optional<LatestFrame::Picture> LatestFrame::get() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

SnapshotStage::SnapshotStage(std::shared_ptr<LatestFrame> latest, std::chrono::milliseconds interval)
    : latest_(std::move(latest)), interval_(interval) {}

void SnapshotStage::process(Frame& frame) {
  if (frame.image.empty()) return;
  const auto now = Clock::now();
  if (last_copy_ != Clock::time_point{} && now - last_copy_ < interval_) return;
  last_copy_ = now;
  // A copy: the frame's pixels may be borrowed from the decoder and go on to other stages.
  latest_->put(frame.image.clone(), frame.seq, frame.pts_ns);
}

}  // namespace lookout
