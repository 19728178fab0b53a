#pragma once
// DownscaledDetector: runs another detector on a smaller copy of each image and maps its boxes
// back to the pixels of the image it was given. Detection cost falls roughly with the square of
// the factor, at the price of missing objects that become smaller than the detector's window.
//
// Boxes are scaled by input size / reduced size on each axis, rounded to whole pixels and clipped
// to the image; a box that clips to nothing is dropped. Keypoints are scaled by the same ratios.
// Order is the wrapped detector's.
// detect_in() forwards to the wrapped detector's own region search when it has one (HOG): the
// regions are mapped onto the reduced image (outwards, to whole pixels, merged where they then
// overlap), so the wrapped detector searches exactly what detect() would search there, and the
// result is mapped back as detect()'s is. A wrapped detector without one gives nullopt, as any.
// Ownership: owns the wrapped detector. Thread safety: thread-compatible, like any Detector.

#include <memory>
#include <optional>
#include <vector>

#include "lookout/detect/detector.h"

namespace lookout {

class DownscaledDetector : public Detector {
 public:
  // `factor` in (0, 1]; throws std::invalid_argument otherwise or if `inner` is null.
  DownscaledDetector(std::unique_ptr<Detector> inner, double factor);

  // Resizes with area averaging (cv::INTER_AREA) to round(size * factor), at least 1x1.
  std::vector<Detection> detect(const cv::Mat& image) override;
  // Reports the pixels searched in the input image's pixels (the reduced count scaled back up).
  std::optional<RegionSearch> detect_in(const cv::Mat& image,
                                        const std::vector<cv::Rect>& regions) override;

 private:
  // Resizes `image` into small_ and returns small_'s size.
  cv::Size reduce(const cv::Mat& image);
  // Maps boxes and keypoints found on small_ back into `image`'s pixels.
  std::vector<Detection> map_back(std::vector<Detection> detections, cv::Size image) const;

  std::unique_ptr<Detector> inner_;
  double factor_;
  cv::Mat small_;  // scratch, reused between frames
  // False once the wrapped detector has answered detect_in with nullopt: later calls then ask it
  // directly, without reducing a frame whose reduced copy it would not use.
  bool inner_searches_regions_ = true;
};

}  // namespace lookout
