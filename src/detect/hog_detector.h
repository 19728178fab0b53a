#pragma once
// HogDetector: people, with OpenCV's HOG descriptor and its default (Dalal-Triggs, 64x128 window)
// people SVM. Label "person"; score is the SVM margin of the grouped window (higher is surer).
//
// Options (parsed and validated by make_detector_factory, which fills HogParams):
//   win_stride       window step, a multiple of the 8-pixel block stride   default 8x8
//   padding          extra border HOG pads the image with                   default 8x8
//   scale            step between pyramid levels, > 1 and <= 2              default 1.05
//   hit_threshold    minimum SVM margin for a window to count               default 0
//   group_threshold  minimum overlapping windows to keep a group (0 keeps
//                    every window ungrouped)                                default 2
// Thread safety: thread-compatible; one instance per worker.

#include <vector>

#include <opencv2/objdetect.hpp>

#include "lookout/detect/detector.h"

namespace lookout {

struct HogParams {
  cv::Size win_stride{8, 8};
  cv::Size padding{8, 8};
  double scale = 1.05;
  double hit_threshold = 0.0;
  int group_threshold = 2;
};

class HogDetector : public Detector {
 public:
  // The block stride of the default people detector; win_stride must be a multiple of it.
  static constexpr int kBlockStride = 8;

  // `params` must already be valid (make_detector_factory checks them).
  explicit HogDetector(const HogParams& params);

  // Accepts 8-bit gray or BGR images; an image smaller than the 64x128 window yields nothing.
  // Detections are sorted by (y, x, width, height).
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  HogParams params_;
  cv::HOGDescriptor hog_;
};

}  // namespace lookout
