#pragma once
// Annotator: a serial stage that draws each frame's detections (box, label, score; one colour per
// label, stable across runs) and an overlay with the frame number and stream time.
//
// Ownership: the captured image may be borrowed, read-only memory, so the annotator draws on an
// explicit copy and replaces frame.image with it. Dropped frames (no image) pass untouched.
// Failed frames are drawn with a "failed" note, so the video shows where processing broke.
// Thread safety: thread-compatible; the pipeline calls it from one thread.

#include <string>

#include "lookout/core/stage.h"

namespace lookout {

class Annotator : public SerialStage {
 public:
  std::string name() const override { return "annotate"; }
  void process(Frame& frame) override;
  void finish() override {}
};

// Draws on `image` in place; exposed for tests and for tools that annotate single images.
void draw_annotations(cv::Mat& image, const Frame& frame);

}  // namespace lookout
