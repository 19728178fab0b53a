#pragma once
// The latest frame of a run, for a picture on request (the metrics server's /snapshot.jpg).
//
// SnapshotStage is a serial stage placed right after the annotator, so it sees what the video
// gets. It copies a frame's pixels into a shared LatestFrame at most once every `interval`
// (default 200 ms): a run pays for a few copies a second, never an encode; whoever asks for the
// picture encodes it. Dropped and failed markers without pixels are skipped.
//
// Ownership: the stage and its readers share the LatestFrame (shared_ptr), so a reader may outlive
// the pipeline. A stored image is never written again: get() hands out the pixels without a copy.
// Thread safety: LatestFrame is safe from any thread (one mutex, held for a header copy);
// SnapshotStage is thread-compatible (the pipeline calls it from one thread). Never blocks for
// longer than one copy of a frame; never throws from process().

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <opencv2/core/mat.hpp>

#include "lookout/core/frame.h"
#include "lookout/core/stage.h"

namespace lookout {

class LatestFrame {
 public:
  struct Picture {
    cv::Mat image;  // BGR; shared, read-only
    std::int64_t seq = -1;
    std::int64_t pts_ns = -1;
  };

  // Keeps `image` (which must own its pixels and never be written again).
  void put(cv::Mat image, std::int64_t seq, std::int64_t pts_ns);
  // The latest picture; nullopt before the first.
  std::optional<Picture> get() const;

 private:
  mutable std::mutex mutex_;
  std::optional<Picture> latest_;
};

class SnapshotStage : public SerialStage {
 public:
  explicit SnapshotStage(std::shared_ptr<LatestFrame> latest,
                         std::chrono::milliseconds interval = std::chrono::milliseconds(200));

  std::string name() const override { return "snapshot"; }
  void process(Frame& frame) override;
  void finish() override {}

 private:
  std::shared_ptr<LatestFrame> latest_;
  std::chrono::milliseconds interval_;
  Clock::time_point last_copy_{};
};

}  // namespace lookout
