#include "lookout/pipeline/detector_chain.h"

namespace lookout {

DetectorChain::DetectorChain(std::vector<std::unique_ptr<Detector>> detectors)
    : detectors_(std::move(detectors)) {}

void DetectorChain::process(Frame& frame) {
  for (const auto& detector : detectors_) {
    std::vector<Detection> found = detector->detect(frame.image);
    frame.detections.insert(frame.detections.end(), std::make_move_iterator(found.begin()),
                            std::make_move_iterator(found.end()));
  }
}

ProcessorFactory detector_chain_factory(std::vector<DetectorFactory> factories) {
  return [factories = std::move(factories)]() -> std::unique_ptr<FrameProcessor> {
    std::vector<std::unique_ptr<Detector>> detectors;
    for (const auto& factory : factories) detectors.push_back(factory());
    return std::make_unique<DetectorChain>(std::move(detectors));
  };
}

}  // namespace lookout
