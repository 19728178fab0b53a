#pragma once
// DetectorChain: the FrameProcessor of the detect stage. Each worker owns one chain holding its
// own instance of every configured detector, run in order on the frame; their detections are
// appended in that order, each tagged with its stage's name (Detection::stage).
//
// Doing expensive work only where it matters: a stage may
//   - run only every Nth frame (`every`: frames whose seq is a multiple of N);
//   - run only on frames where an earlier stage found something (`when: motion`);
//   - run only inside the boxes of an earlier stage (`regions: motion`, or `regions: people` to
//     search faces inside people): each box grows by `region_padding` (a fraction of its size on
//     every side) and to at least `region_min_size`, overlapping regions merge into one; a
//     detector that can confine its own search to regions (Detector::detect_in: HOG) is given
//     the frame and the regions; any other runs on each region's pixels (no copy), its boxes are
//     mapped back to the frame, and duplicates found by two regions (same label, IoU > 0.5) are
//     kept once, the higher score.
// The earlier stage may be the motion stage, which runs in capture order before the workers.
// Everything here depends only on the frame (its seq and detections so far), so the results are
// the same whatever the number of workers. A stage that skips a frame leaves it otherwise
// untouched; it still reaches the outputs in order.
//
// Counters (frames run, frames skipped, pixels searched) are shared by every worker's chain and
// safe to read from any thread.
// Thread safety: a chain is thread-compatible (one per worker); ChainCounters are thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "lookout/core/stage.h"
#include "lookout/detect/detector.h"

namespace lookout {

struct ChainStage {
  std::string name;             // unique in the pipeline; tags the detections
  DetectorFactory factory;
  std::string regions;          // empty: the whole frame; else the stage whose boxes are searched
  std::string when;             // empty: every frame; else only frames where that stage found any
  int every = 1;                // run on frames whose seq is a multiple of this
  double region_padding = 0.2;  // grows each region by this fraction of its size on every side
  cv::Size region_min_size{0, 0};  // regions smaller than this grow to it, around their centre
};

// The keys a pipeline stage may carry besides its detector's own options.
std::vector<std::string> chain_option_keys();

// Reads the chain keys of one stage (its name defaults to `default_name`); throws ConfigError.
ChainStage parse_chain_stage(Options& chain_options, const std::string& default_name);

struct ChainStageCounters {
  std::string name;
  std::atomic<std::int64_t> frames_run{0};
  std::atomic<std::int64_t> frames_skipped{0};
  std::atomic<std::int64_t> pixels{0};  // pixels the detector was given
};

using ChainCounters = std::vector<std::unique_ptr<ChainStageCounters>>;

class DetectorChain : public FrameProcessor {
 public:
  struct Step {
    ChainStage stage;
    std::unique_ptr<Detector> detector;
    ChainStageCounters* counters = nullptr;  // may be null
  };

  explicit DetectorChain(std::vector<Step> steps);
  void process(Frame& frame) override;

 private:
  std::vector<Detection> search_regions(const Step& step, const Frame& frame, std::int64_t& pixels);

  std::vector<Step> steps_;
};

// A ProcessorFactory making one DetectorChain from one instance of each stage's detector.
// `counters`, if given, gets one entry per stage and is shared by every chain made.
ProcessorFactory detector_chain_factory(std::vector<ChainStage> stages,
                                        std::shared_ptr<ChainCounters> counters = nullptr);

// The regions a stage searches, from the boxes of an earlier stage: padded, grown to the minimum
// size, clipped to the frame and merged where they overlap. Sorted by position.
std::vector<cv::Rect> search_regions_from(const std::vector<cv::Rect>& boxes, cv::Size frame,
                                          double padding, cv::Size min_size);

// Keeps one of each group of same-label detections overlapping with IoU > `iou` (the higher
// score; ties by position). The result is sorted by position.
std::vector<Detection> remove_duplicates(std::vector<Detection> detections, double iou = 0.5);

}  // namespace lookout
