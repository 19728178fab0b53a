#pragma once
// DownscaledDetector: runs another detector on a smaller copy of each image and maps its boxes
// back to the pixels of the image it was given. Detection cost falls roughly with the square of
// the factor, at the price of missing objects that become smaller than the detector's window.
//
// Boxes are scaled by input size / reduced size on each axis, rounded to whole pixels and clipped
// to the image; a box that clips to nothing is dropped. Keypoints are scaled by the same ratios. Order is the wrapped detector's.
// Ownership: owns the wrapped detector. Thread safety: thread-compatible, like any Detector.

#include <memory>
#include <vector>

#include "lookout/detect/detector.h"

namespace lookout {

class DownscaledDetector : public Detector {
 public:
  // `factor` in (0, 1]; throws std::invalid_argument otherwise or if `inner` is null.
  DownscaledDetector(std::unique_ptr<Detector> inner, double factor);

  // Resizes with area averaging (cv::INTER_AREA) to round(size * factor), at least 1x1.
  std::vector<Detection> detect(const cv::Mat& image) override;

 private:
  std::unique_ptr<Detector> inner_;
  double factor_;
  cv::Mat small_;  // scratch, reused between frames
};

}  // namespace lookout
