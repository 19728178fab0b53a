#pragma once
// MotionStage: runs a MotionModel as a capture stage (see Pipeline::add_capture_stage), in seq
// order on every frame, and appends its regions to the frame as detections of stage `name`, for
// later stages to gate on (`when:` / `regions:`) and for the outputs.
// Thread safety: thread-compatible; the capture thread owns it.

#include <string>

#include "lookout/core/stage.h"
#include "lookout/detect/motion_model.h"

namespace lookout {

class MotionStage : public SerialStage {
 public:
  MotionStage(std::string name, MotionParams params) : name_(std::move(name)), model_(std::move(params)) {}
  std::string name() const override { return name_; }
  void process(Frame& frame) override {
    if (!frame.ok() || frame.image.empty()) return;
    for (Detection& region : model_.apply(frame.image)) {
      region.stage = name_;
      frame.detections.push_back(std::move(region));
    }
  }
  void finish() override {}

 private:
  std::string name_;
  MotionModel model_;
};

}  // namespace lookout
