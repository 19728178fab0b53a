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
// detect_in() (regions): the same pyramid levels and window grid as detect(), but at each level
// only the windows whose centre falls in a region are scored, by running HOG on views of the
// level image aligned to the window grid (HOG reads the pixels around a view from the image it
// belongs to, so each window scores exactly as on the whole level). The windows found are grouped
// together as detect() groups them. So a person whose windows all lie in regions gets the box the
// whole-frame search gives, and the cost follows the regions' area, not the frame's.
// Thread safety: thread-compatible; one instance per worker.

#include <optional>
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
  std::optional<RegionSearch> detect_in(const cv::Mat& image,
                                        const std::vector<cv::Rect>& regions) override;

 private:
  // Turns grouped windows into detections: clipped to the image, sorted by position.
  std::vector<Detection> to_detections(std::vector<cv::Rect>& boxes, std::vector<double>& weights,
                                       cv::Size image) const;

  HogParams params_;
  cv::HOGDescriptor hog_;
};

}  // namespace lookout
