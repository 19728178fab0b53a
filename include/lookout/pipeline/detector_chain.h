#pragma once
// DetectorChain: the FrameProcessor of the detect stage. Each worker owns one chain holding its
// own instance of every configured detector, run in order on the frame; their detections are
// appended in that order.
// Thread safety: thread-compatible (one per worker).

#include <memory>
#include <vector>

#include "lookout/core/stage.h"
#include "lookout/detect/detector.h"

namespace lookout {

class DetectorChain : public FrameProcessor {
 public:
  explicit DetectorChain(std::vector<std::unique_ptr<Detector>> detectors);
  void process(Frame& frame) override;

 private:
  std::vector<std::unique_ptr<Detector>> detectors_;
};

// A ProcessorFactory making one DetectorChain from one instance of each factory.
ProcessorFactory detector_chain_factory(std::vector<DetectorFactory> factories);

}  // namespace lookout
